using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>
/// An ORT tensor. Either a view over memory the caller owns (<see cref="CreateTensor{T}(T*, long, ReadOnlySpan{long})"/>:
/// the caller keeps that memory alive and in place until this value is disposed), a view over a pinned
/// managed array (the pin is held until dispose), or a tensor ORT allocated (returned by a Run).
/// Not thread-safe.
/// </summary>
public sealed unsafe class OrtValue : IDisposable
{
    private readonly OrtHandle _handle;
    private GCHandle _pin;

    private OrtValue(nint value, GCHandle pin = default)
    {
        _handle = new OrtHandle(value, OrtNative.ReleaseValue);
        _pin = pin;
    }

    internal nint Raw
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>A tensor over <paramref name="elementCount"/> elements at <paramref name="data"/>, which the caller owns.</summary>
    public static OrtValue CreateTensor<T>(T* data, long elementCount, ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        var expected = 1L;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Negative dimension {d} in shape.", nameof(shape));
            }

            expected *= d;
        }

        if (expected != elementCount)
        {
            throw new ArgumentException($"Shape [{string.Join(",", shape.ToArray())}] holds {expected} elements, buffer has {elementCount}.", nameof(shape));
        }

        nint value;
        fixed (long* s = shape)
        {
            var fn = (delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)OrtNative.Fn(OrtNative.CreateTensorWithDataAsOrtValue);
            OrtNative.Check(fn(OrtEnvironment.CpuMemoryInfo, data, (nuint)(elementCount * sizeof(T)), s, (nuint)shape.Length, (int)TensorElementTypes.Of<T>(), &value));
        }

        return new OrtValue(value);
    }

    /// <summary>A tensor over a managed array, pinned until this value is disposed.</summary>
    public static OrtValue CreateTensor<T>(T[] data, ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        var pin = GCHandle.Alloc(data, GCHandleType.Pinned);
        try
        {
            var value = CreateTensor((T*)pin.AddrOfPinnedObject(), data.LongLength, shape);
            value._pin = pin;
            return value;
        }
        catch
        {
            pin.Free();
            throw;
        }
    }

    /// <summary>A tensor whose memory ORT allocates (and frees on dispose).</summary>
    public static OrtValue Allocate(TensorElementType elementType, ReadOnlySpan<long> shape)
    {
        nint allocator;
        OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.GetAllocatorWithDefaultOptions))(&allocator));
        nint value;
        fixed (long* s = shape)
        {
            var fn = (delegate* unmanaged<nint, long*, nuint, int, nint*, nint>)OrtNative.Fn(OrtNative.CreateTensorAsOrtValue);
            OrtNative.Check(fn(allocator, s, (nuint)shape.Length, (int)elementType, &value));
        }

        return new OrtValue(value);
    }

    internal static OrtValue FromOwnedHandle(nint value) => new(value);

    public TensorElementType ElementType
    {
        get
        {
            var info = TypeAndShape();
            try
            {
                return TensorInfo.ElementTypeOf(info);
            }
            finally
            {
                OrtNative.Release(OrtNative.ReleaseTensorTypeAndShapeInfo, info);
            }
        }
    }

    public long[] GetShape()
    {
        var info = TypeAndShape();
        try
        {
            return TensorInfo.DimensionsOf(info);
        }
        finally
        {
            OrtNative.Release(OrtNative.ReleaseTensorTypeAndShapeInfo, info);
        }
    }

    /// <summary>Pointer to the tensor's first element.</summary>
    public void* DataPointer
    {
        get
        {
            void* data;
            OrtNative.Check(((delegate* unmanaged<nint, void**, nint>)OrtNative.Fn(OrtNative.GetTensorMutableData))(Raw, &data));
            return data;
        }
    }

    /// <summary>The elements; throws if <typeparamref name="T"/> is not the tensor's element type. Valid until dispose.</summary>
    public Span<T> GetTensorData<T>()
        where T : unmanaged
    {
        var type = ElementType;
        if (type != TensorElementTypes.Of<T>())
        {
            throw new InvalidOperationException($"Tensor holds {type}, not {typeof(T).Name}.");
        }

        var count = 1L;
        foreach (var d in GetShape())
        {
            count *= d;
        }

        return new Span<T>(DataPointer, checked((int)count));
    }

    public void Dispose()
    {
        _handle.Dispose();
        if (_pin.IsAllocated)
        {
            _pin.Free();
        }
    }

    private nint TypeAndShape()
    {
        nint info;
        OrtNative.Check(((delegate* unmanaged<nint, nint*, nint>)OrtNative.Fn(OrtNative.GetTensorTypeAndShape))(Raw, &info));
        return info;
    }
}
