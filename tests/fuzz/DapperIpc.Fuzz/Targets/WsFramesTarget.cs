using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using DapperIpc.Framing;
using DapperIpc.Transports.Ws;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Transports/Ws/WsReceiver.cs, the decoder of a peer's websocket frames. Input: a mode byte
/// (bit 0: we are the client, so the peer's frames must come unmasked; bits 1-2: the maximum
/// payload, 0, 16, 1024 or 64 KiB), a split script as the frame-reader target's (a count 0-15
/// and that many 16-bit receive sizes, cycled; 0 = as much as fits), then the peer's bytes.
/// </summary>
internal static class WsFramesTarget
{
    private static readonly uint[] Maxima = [0, 16, 1024, 64 * 1024];

    private sealed class Wire(byte[] stream, int[] chunks) : IWsWire
    {
        public int Position;
        public int Calls;
        public readonly List<byte[]> Sent = new();

        public int RawReceive(Span<byte> buffer, int timeoutMs)
        {
            Invariant.Check(!buffer.IsEmpty, "the decoder asked for bytes with an empty buffer");
            int size = chunks.Length == 0 ? buffer.Length : chunks[Calls++ % chunks.Length];
            int n = Math.Min(Math.Min(size == 0 ? buffer.Length : size, buffer.Length), stream.Length - Position);
            stream.AsSpan(Position, n).CopyTo(buffer);
            Position += n;
            return n;
        }

        public void SendControl(ReadOnlySpan<byte> frame) => Sent.Add(frame.ToArray());
    }

    public static void Run(ReadOnlySpan<byte> data)
    {
        byte mode = data.Length > 0 ? data[0] : (byte)0;
        int count = data.Length > 1 ? data[1] & 15 : 0;
        var chunks = new int[count];
        int at = 2;
        for (int i = 0; i < count; i++, at += 2)
        {
            chunks[i] = data.Length >= at + 2 ? BinaryPrimitives.ReadUInt16BigEndian(data[at..]) : 0;
        }

        byte[] stream = data.Length > at ? data[at..].ToArray() : [];
        bool isClient = (mode & 1) != 0;
        uint max = Maxima[(mode >> 1) & 3];
        var wire = new Wire(stream, chunks);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var receiver = new WsReceiver(wire, isClient, max, [], isClient ? new WsMaskKeys() : null);
        var delivered = new List<byte>();
        byte[] buffer = new byte[1 + (mode >> 3) * 37];
        IpcException? ended = null;
        try
        {
            while (true)
            {
                int n = receiver.Receive(buffer, -1);
                if (n < 0 || n > buffer.Length)
                {
                    // Formatted only here: the allocation check below counts the harness's own strings too.
                    Invariant.Check(false, $"a receive returned {n} for a buffer of {buffer.Length}");
                }
                if (n == 0)
                {
                    break;
                }

                for (int i = 0; i < n; i++)
                {
                    delivered.Add(buffer[i]);
                }

                Invariant.Check(delivered.Count <= stream.Length, "more DP bytes delivered than the peer sent");
            }
        }
        catch (Exception e)
        {
            ended = Invariant.Refusal(e, IpcStatus.Protocol, IpcStatus.FrameTooLarge, IpcStatus.Closed);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long harness = delivered.Count * 32L + wire.Sent.Count * 256L; // this harness's own lists and copies
        Invariant.Check(allocated < 256 * 1024 + harness,
            $"the decoder allocated {allocated} bytes: its buffers are fixed, nothing per frame or by announced length");
        Invariant.Check(receiver.Receive(buffer, 0) <= 0 || ended is null, "the decoder delivered bytes after it refused the stream");

        foreach (byte[] frame in wire.Sent)
        {
            int opcode = frame[0] & 0x0F;
            Invariant.Check(frame[0] is 0x8A or 0x88, $"the decoder sent a frame that is neither a pong nor a close (0x{frame[0]:x2})");
            Invariant.Check(((frame[1] & 0x80) != 0) == isClient, "the decoder's own frame is masked as the other side's would be");
            Invariant.Check(opcode != 0x8 || frame == wire.Sent[^1], "something was sent after a close frame");
        }

        if (ended is { Status: IpcStatus.Protocol or IpcStatus.FrameTooLarge })
        {
            Invariant.Check(wire.Sent.Count > 0 && (wire.Sent[^1][0] & 0x0F) == 0x8, "a refusal sent no close frame");
        }

        // Every DP frame delivered is whole: the delivered bytes walk as frames of at most the maximum.
        int position = 0;
        while (position + FrameHeader.Size <= delivered.Count)
        {
            uint length = (uint)(delivered[position + 4] << 24 | delivered[position + 5] << 16 | delivered[position + 6] << 8 | delivered[position + 7]);
            Invariant.Check(length <= max, $"a DP frame of {length} bytes, above the maximum {max}, was delivered");
            if (position + FrameHeader.Size + (long)length > delivered.Count)
            {
                break;
            }

            position += FrameHeader.Size + (int)length;
        }

        Invariant.Check(ended is not null || position == delivered.Count,
            "the stream ended cleanly with part of a DP frame delivered (a message must hold exactly one frame)");
    }
}
