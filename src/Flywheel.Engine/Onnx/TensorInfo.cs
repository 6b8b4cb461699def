using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>A model input or output as the session declares it.</summary>
/// <param name="Shape">Dimensions; -1 where the dimension is symbolic.</param>
/// <param name="SymbolicDims">The symbolic name of each dimension ("" where fixed).</param>
public sealed record TensorInfo(string Name, TensorElementType ElementType, long[] Shape, string[] SymbolicDims)
{
    public int Rank => Shape.Length;

    public override string ToString() =>
        $"{Name}: {ElementType}[{string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : SymbolicDims[i]))}]";

    internal static unsafe TensorElementType ElementTypeOf(nint tensorInfo)
    {
        int type;
        OrtNative.Check(((delegate* unmanaged<nint, int*, nint>)OrtNative.Fn(OrtNative.GetTensorElementType))(tensorInfo, &type));
        return (TensorElementType)type;
    }

    internal static unsafe long[] DimensionsOf(nint tensorInfo)
    {
        nuint count;
        OrtNative.Check(((delegate* unmanaged<nint, nuint*, nint>)OrtNative.Fn(OrtNative.GetDimensionsCount))(tensorInfo, &count));
        var dims = new long[(int)count];
        fixed (long* d = dims)
        {
            OrtNative.Check(((delegate* unmanaged<nint, long*, nuint, nint>)OrtNative.Fn(OrtNative.GetDimensions))(tensorInfo, d, count));
        }

        return dims;
    }

    internal static unsafe string[] SymbolsOf(nint tensorInfo, int rank)
    {
        var pointers = new nint[rank];
        fixed (nint* p = pointers)
        {
            OrtNative.Check(((delegate* unmanaged<nint, nint*, nuint, nint>)OrtNative.Fn(OrtNative.GetSymbolicDimensions))(tensorInfo, p, (nuint)rank));
        }

        return pointers.Select(p => p == 0 ? "" : Marshal.PtrToStringUTF8(p) ?? "").ToArray();
    }
}
