using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>
/// Binds inputs and outputs to a session ahead of a run (ORT's IoBinding): bound values are used as they
/// are, outputs bound to preallocated tensors are written in place. The bound values must stay alive
/// until the run. Not thread-safe.
/// </summary>
public sealed unsafe class IoBinding : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtHandle _handle;

    internal IoBinding(InferenceSession session)
    {
        _session = session;
        nint binding;
        OrtNative.Check(((delegate* unmanaged<nint, nint*, nint>)OrtNative.Fn(OrtNative.CreateIoBinding))(session.Raw, &binding));
        _handle = new OrtHandle(binding, OrtNative.ReleaseIoBinding);
    }

    private nint Raw
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    public void BindInput(string name, OrtValue value) => Bind(OrtNative.BindInput, name, value);

    /// <summary>Binds an output to a preallocated tensor that ORT writes into.</summary>
    public void BindOutput(string name, OrtValue value) => Bind(OrtNative.BindOutput, name, value);

    public void ClearBoundInputs() => ((delegate* unmanaged<nint, void>)OrtNative.Fn(OrtNative.ClearBoundInputs))(Raw);

    public void ClearBoundOutputs() => ((delegate* unmanaged<nint, void>)OrtNative.Fn(OrtNative.ClearBoundOutputs))(Raw);

    /// <summary>Runs the session with the bound inputs and outputs.</summary>
    public void Run()
    {
        var fn = (delegate* unmanaged<nint, nint, nint, nint>)OrtNative.Fn(OrtNative.RunWithBinding);
        OrtNative.Check(fn(_session.Raw, 0, Raw));
    }

    /// <summary>The bound outputs after a run, as new values owned by the caller (they share the bound memory).</summary>
    public OrtValue[] GetBoundOutputValues()
    {
        nint allocator;
        OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.GetAllocatorWithDefaultOptions))(&allocator));
        nint* values;
        nuint count;
        var fn = (delegate* unmanaged<nint, nint, nint**, nuint*, nint>)OrtNative.Fn(OrtNative.GetBoundOutputValues);
        OrtNative.Check(fn(Raw, allocator, &values, &count));
        if (values == null)
        {
            return [];
        }

        try
        {
            var result = new OrtValue[(int)count];
            for (var i = 0; i < (int)count; i++)
            {
                result[i] = OrtValue.FromOwnedHandle(values[i]);
            }

            return result;
        }
        finally
        {
            // The array itself came from the allocator; the values are now owned by the OrtValues.
            OrtNative.Check(((delegate* unmanaged<nint, nint, nint>)OrtNative.Fn(OrtNative.AllocatorFree))(allocator, (nint)values));
        }
    }

    public void Dispose() => _handle.Dispose();

    private void Bind(int slot, string name, OrtValue value)
    {
        var utf8 = Marshal.StringToCoTaskMemUTF8(name);
        try
        {
            OrtNative.Check(((delegate* unmanaged<nint, nint, nint, nint>)OrtNative.Fn(slot))(Raw, utf8, value.Raw));
        }
        finally
        {
            Marshal.FreeCoTaskMem(utf8);
        }
    }
}
