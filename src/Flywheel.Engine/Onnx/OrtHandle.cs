using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>
/// Owns one ORT object and releases it exactly once through its Release* function (on Dispose, or by
/// the finalizer if the owner forgot). SafeHandle's reference counting makes a release during a call
/// that uses the handle impossible.
/// </summary>
internal sealed class OrtHandle : SafeHandle
{
    private static long s_liveCount;
    private readonly int _releaseSlot;

    public OrtHandle(nint handle, int releaseSlot)
        : base(0, ownsHandle: true)
    {
        _releaseSlot = releaseSlot;
        SetHandle(handle);
        if (handle != 0)
        {
            Interlocked.Increment(ref s_liveCount);
        }
    }

    /// <summary>ORT objects created through this binding and not yet released (for leak tests).</summary>
    public static long LiveCount => Interlocked.Read(ref s_liveCount);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        OrtNative.Release(_releaseSlot, handle);
        Interlocked.Decrement(ref s_liveCount);
        return true;
    }
}

/// <summary>Count of live ORT objects created through this binding (leak tests read it).</summary>
public static class OrtHandleCounter
{
    public static long Live => OrtHandle.LiveCount;
}
