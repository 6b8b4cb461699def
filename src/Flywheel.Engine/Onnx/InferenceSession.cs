using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>
/// A loaded model. <see cref="Run(ReadOnlySpan{string}, ReadOnlySpan{OrtValue}, ReadOnlySpan{string})"/> may be
/// called from several threads at once (ORT allows it); dispose only when no Run is in flight.
/// </summary>
public sealed unsafe class InferenceSession : IDisposable
{
    private readonly OrtHandle _handle;

    /// <summary>Loads the model at <paramref name="modelPath"/>; ORT's own message on failure.</summary>
    public InferenceSession(string modelPath, SessionOptions? options = null)
    {
        using var defaults = options is null ? new SessionOptions() : null;
        var opts = (options ?? defaults!).Handle.DangerousGetHandle();
        var path = Marshal.StringToCoTaskMemUTF8(modelPath);
        nint session;
        try
        {
            var fn = (delegate* unmanaged<nint, nint, nint, nint*, nint>)OrtNative.Fn(OrtNative.CreateSession);
            OrtNative.Check(fn(OrtEnvironment.Handle, path, opts, &session));
        }
        finally
        {
            Marshal.FreeCoTaskMem(path);
        }

        _handle = new OrtHandle(session, OrtNative.ReleaseSession);
        (Inputs, Outputs) = (ReadInfos(isInput: true), ReadInfos(isInput: false));
    }

    /// <summary>Loads a model from its serialized bytes.</summary>
    public InferenceSession(ReadOnlySpan<byte> modelBytes, SessionOptions? options = null)
    {
        using var defaults = options is null ? new SessionOptions() : null;
        var opts = (options ?? defaults!).Handle.DangerousGetHandle();
        nint session;
        fixed (byte* bytes = modelBytes)
        {
            var fn = (delegate* unmanaged<nint, byte*, nuint, nint, nint*, nint>)OrtNative.Fn(OrtNative.CreateSessionFromArray);
            OrtNative.Check(fn(OrtEnvironment.Handle, bytes, (nuint)modelBytes.Length, opts, &session));
        }

        _handle = new OrtHandle(session, OrtNative.ReleaseSession);
        (Inputs, Outputs) = (ReadInfos(isInput: true), ReadInfos(isInput: false));
    }

    public IReadOnlyList<TensorInfo> Inputs { get; }

    public IReadOnlyList<TensorInfo> Outputs { get; }

    internal nint Raw
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>Runs the model; returns the outputs (ORT-allocated, owned by the caller) in the order asked.</summary>
    public OrtValue[] Run(ReadOnlySpan<string> inputNames, ReadOnlySpan<OrtValue> inputs, ReadOnlySpan<string> outputNames)
    {
        using var inNames = new NativeNames(inputNames);
        using var outNames = new NativeNames(outputNames);
        var outputs = new OrtValue?[outputNames.Length];
        Run(inNames, inputs, outNames, outputs);
        return outputs.Select(o => o!).ToArray();
    }

    /// <summary>
    /// The allocation-free path: names marshalled once (<see cref="NativeNames"/>); each non-null entry of
    /// <paramref name="outputs"/> is a preallocated tensor ORT writes into, each null entry receives a new
    /// ORT-allocated value owned by the caller.
    /// </summary>
    public void Run(NativeNames inputNames, ReadOnlySpan<OrtValue> inputs, NativeNames outputNames, Span<OrtValue?> outputs)
    {
        if (inputNames.Count != inputs.Length || outputNames.Count != outputs.Length)
        {
            throw new ArgumentException("Names and values differ in count.");
        }

        var inHandles = stackalloc nint[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            inHandles[i] = inputs[i].Raw;
        }

        var outHandles = stackalloc nint[outputs.Length];
        for (var i = 0; i < outputs.Length; i++)
        {
            outHandles[i] = outputs[i]?.Raw ?? 0;
        }

        var fn = (delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)OrtNative.Fn(OrtNative.Run);
        OrtNative.Check(fn(Raw, 0, inputNames.Pointers, inHandles, (nuint)inputs.Length, outputNames.Pointers, (nuint)outputs.Length, outHandles));
        for (var i = 0; i < outputs.Length; i++)
        {
            outputs[i] ??= OrtValue.FromOwnedHandle(outHandles[i]);
        }
    }

    /// <summary>An IoBinding for this session (dispose it before the session).</summary>
    public IoBinding CreateIoBinding() => new(this);

    public void Dispose() => _handle.Dispose();

    private List<TensorInfo> ReadInfos(bool isInput)
    {
        nuint count;
        var countFn = (delegate* unmanaged<nint, nuint*, nint>)OrtNative.Fn(isInput ? OrtNative.SessionGetInputCount : OrtNative.SessionGetOutputCount);
        OrtNative.Check(countFn(Raw, &count));
        nint allocator;
        OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.GetAllocatorWithDefaultOptions))(&allocator));
        var infos = new List<TensorInfo>();
        for (nuint i = 0; i < count; i++)
        {
            nint namePtr;
            var nameFn = (delegate* unmanaged<nint, nuint, nint, nint*, nint>)OrtNative.Fn(isInput ? OrtNative.SessionGetInputName : OrtNative.SessionGetOutputName);
            OrtNative.Check(nameFn(Raw, i, allocator, &namePtr));
            var name = Marshal.PtrToStringUTF8(namePtr) ?? "";
            OrtNative.Check(((delegate* unmanaged<nint, nint, nint>)OrtNative.Fn(OrtNative.AllocatorFree))(allocator, namePtr));

            nint typeInfo;
            var typeFn = (delegate* unmanaged<nint, nuint, nint*, nint>)OrtNative.Fn(isInput ? OrtNative.SessionGetInputTypeInfo : OrtNative.SessionGetOutputTypeInfo);
            OrtNative.Check(typeFn(Raw, i, &typeInfo));
            try
            {
                nint tensorInfo;
                OrtNative.Check(((delegate* unmanaged<nint, nint*, nint>)OrtNative.Fn(OrtNative.CastTypeInfoToTensorInfo))(typeInfo, &tensorInfo));
                if (tensorInfo == 0)
                {
                    infos.Add(new TensorInfo(name, TensorElementType.Undefined, [], []));
                    continue;
                }

                var dims = TensorInfo.DimensionsOf(tensorInfo);
                infos.Add(new TensorInfo(name, TensorInfo.ElementTypeOf(tensorInfo), dims, TensorInfo.SymbolsOf(tensorInfo, dims.Length)));
            }
            finally
            {
                OrtNative.Release(OrtNative.ReleaseTypeInfo, typeInfo);
            }
        }

        return infos;
    }
}

/// <summary>An array of NUL-terminated UTF-8 names in native memory, for Run calls that allocate nothing.</summary>
public sealed unsafe class NativeNames : IDisposable
{
    private nint* _pointers;

    public NativeNames(ReadOnlySpan<string> names)
    {
        Names = names.ToArray();
        _pointers = (nint*)NativeMemory.AllocZeroed((nuint)Math.Max(1, names.Length), (nuint)sizeof(nint));
        for (var i = 0; i < names.Length; i++)
        {
            _pointers[i] = Marshal.StringToCoTaskMemUTF8(names[i]);
        }
    }

    public IReadOnlyList<string> Names { get; }

    public int Count => Names.Count;

    internal nint* Pointers
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointers == null, this);
            return _pointers;
        }
    }

    public void Dispose()
    {
        if (_pointers == null)
        {
            return;
        }

        for (var i = 0; i < Names.Count; i++)
        {
            Marshal.FreeCoTaskMem(_pointers[i]);
        }

        NativeMemory.Free(_pointers);
        _pointers = null;
        GC.SuppressFinalize(this);
    }
}
