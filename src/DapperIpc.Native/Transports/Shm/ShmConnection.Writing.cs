using System;
using System.Threading;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Shm;

/// <summary>Frames into the send ring, under the send lock: whole where they fit, in published chunks where they do not.</summary>
internal sealed unsafe partial class ShmConnection
{
    // A payload longer than a chunk is published chunk by chunk, so the reader copies one
    // while we copy the next (instead of taking turns over a whole ring); a full ring is
    // waited on until a chunk's room is free, not a byte's.
    private const int Chunk = 64 * 1024;

    private bool SendEnded => _stopped || IsClosed;

    protected override void WriteFrames(ReadOnlySpan<NativeFrame> frames)
    {
        long deadline = _sendTimeoutMs < 0 ? long.MaxValue : Deadline(_sendTimeoutMs);
        if (!_joined && !Join(deadline, forSending: true))
        {
            throw new IpcException(IpcStatus.SendTimeout,
                $"send timed out: the listener {Description} has not accepted this client (passed its shared memory) within the send timeout; nothing was sent");
        }

        Volatile.Write(ref *_ownCpu, ShmNative.CurrentCpu());
        byte* header = stackalloc byte[FrameHeader.Size];
        for (int i = 0; i < frames.Length; i++)
        {
            ulong start = _tx.Position;
            try
            {
                // A frame the ring can hold goes in whole or not at all: a send that times
                // out leaves no part of it behind, and the connection usable. A larger one
                // goes in pieces, the reader taking each as it comes.
                ulong whole = FrameHeader.Size + (ulong)frames[i].Length;
                if (whole <= _tx.Size && _tx.Free() < whole)
                {
                    Wake(_tx.Publish());
                    WaitForRoom(deadline, whole);
                }

                FrameHeader.Write(new Span<byte>(header, FrameHeader.Size), (byte)frames[i].Kind, (uint)frames[i].Length);
                Put(header, FrameHeader.Size, deadline);
                Put(frames[i].Payload, (long)frames[i].Length, deadline);
            }
            catch (IpcException e)
            {
                bool cut = !_tx.CanUnwrite(start);
                if (!cut)
                {
                    _tx.Unwrite(start);
                }

                Wake(_tx.Publish());
                throw new IpcException(e.Status, cut ? e.Message + "; part of the frame went out, so the connection is closed" : e.Message, e)
                {
                    FramesSent = i,
                    StreamCut = cut,
                };
            }
        }

        Wake(_tx.Publish());
    }

    private void Put(byte* source, long length, long deadline)
    {
        bool large = length > Chunk;
        while (length > 0)
        {
            if (SendEnded)
            {
                throw Closed();
            }

            int n = _tx.Write(source, (int)Math.Min(length, large ? Chunk : int.MaxValue));
            source += n;
            length -= n;
            if (length > 0)
            {
                Wake(_tx.Publish());
                if (n == 0)
                {
                    WaitForRoom(deadline, (ulong)Math.Min(length, Math.Min(Chunk, _tx.Size)));
                }
            }
        }
    }
}
