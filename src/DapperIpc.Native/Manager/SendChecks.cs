using System;
using DapperIpc.Framing;
using DapperIpc.Transports;

namespace DapperIpc.Manager;

/// <summary>
/// What a caller must get right about the frames it sends: a DP v1 kind, and a payload
/// pointer unless the length is 0. Checked once per call: a single frame where it comes
/// in (Interop/Exports.cs, before its span is made), a batch in
/// <see cref="IPCManager.SendFrames"/>; the connection checks only its own limit, the
/// maximum length.
/// </summary>
internal static unsafe class SendChecks
{
    /// <summary>Throws InvalidArgument for a bad kind, or a NULL payload with a length.</summary>
    public static void Frame(int kind, byte* payload, nuint length)
    {
        if (!FrameKind.IsDefined(kind))
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"kind {kind} is not a DP v1 frame kind (1 = event, 2 = command)");
        }

        if (payload == null && length != 0)
        {
            throw new IpcException(IpcStatus.InvalidArgument, "payload is NULL but length is not 0");
        }
    }

    /// <summary>The same for every frame of a batch, naming the first bad one; nothing is sent then.</summary>
    public static void Batch(ReadOnlySpan<NativeFrame> frames)
    {
        for (int i = 0; i < frames.Length; i++)
        {
            if (!FrameKind.IsDefined(frames[i].Kind))
            {
                throw new IpcException(IpcStatus.InvalidArgument,
                    $"frame {i}: kind {frames[i].Kind} is not a DP v1 frame kind (1 = event, 2 = command)");
            }

            if (frames[i].Payload == null && frames[i].Length != 0)
            {
                throw new IpcException(IpcStatus.InvalidArgument, $"frame {i}: payload is NULL but length is not 0");
            }
        }
    }
}
