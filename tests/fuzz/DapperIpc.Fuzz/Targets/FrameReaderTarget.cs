using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using DapperIpc.Framing;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Framing/FrameReader.cs fed by a scripted stream. Input: a mode byte (low 4 bits: the
/// configured maximum payload from <see cref="Maxima"/>; 0x10: pull mode, the
/// dapper_ipc_recv path; otherwise the reader's push path, which hands over batches (the
/// bit 0x40, which once chose batches over single frames, no longer changes anything); 0x20:
/// a handler that stops after every call and is resumed), the split script (<see cref="ScriptedStream.From"/>), then the peer's bytes.
/// The reader's frames and ending are compared with a reference walk over the whole stream.
/// </summary>
internal static class FrameReaderTarget
{
    /// <summary>Maxima around the edges of the reader's buffers (initial 64 KiB, retained 4 MiB).</summary>
    internal static readonly uint[] Maxima =
    [
        FrameHeader.DefaultMaxPayload, 0, 1, 7, 8, 16, 255, 1024,
        FrameReader.InitialCapacity - FrameHeader.Size - 1, FrameReader.InitialCapacity - FrameHeader.Size,
        FrameReader.InitialCapacity - FrameHeader.Size + 1, FrameReader.InitialCapacity,
        FrameReader.RetainedCapacity - FrameHeader.Size, FrameReader.RetainedCapacity - FrameHeader.Size + 1,
        FrameReader.RetainedCapacity, 100,
    ];

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte mode = input.Byte();
        uint max = Maxima[mode & 0x0F];
        var stream = ScriptedStream.From(ref input);
        var expected = Reference(stream.Bytes, max, out IpcStatus expectedEnd);
        var delivered = new List<(byte Kind, byte[] Payload)>();

        using var reader = new FrameReader(max);
        long capacityLimit = Math.Max(FrameReader.InitialCapacity, FrameHeader.Size + (long)max);
        IpcStatus end;
        try
        {
            if ((mode & 0x10) != 0)
            {
                Pull(reader, stream, delivered, capacityLimit);
            }
            else
            {
                bool stopEach = (mode & 0x20) != 0;
                var handler = new BatchRecorder(delivered, reader, capacityLimit, max, stopEach);
                var source = new Source(stream, reader, capacityLimit);
                while (!reader.Run(source, handler))
                {
                    // The handler asked to stop; the next Run carries on where this one left.
                }
            }

            end = IpcStatus.Ok;
        }
        catch (Exception e)
        {
            end = Invariant.Refusal(e, IpcStatus.Protocol, IpcStatus.FrameTooLarge, IpcStatus.Closed).Status;
        }

        Invariant.Check(end == expectedEnd, $"the stream ended with {end}, the reference walk says {expectedEnd}");
        Invariant.Check(delivered.Count == expected.Count, $"{delivered.Count} frames delivered, the stream holds {expected.Count} whole valid frames before its end");
        for (int i = 0; i < expected.Count; i++)
        {
            Invariant.Check(delivered[i].Kind == expected[i].Kind && delivered[i].Payload.AsSpan().SequenceEqual(expected[i].Payload),
                $"frame {i} was delivered with other kind or bytes than were sent");
        }

        if (end is IpcStatus.Protocol or IpcStatus.FrameTooLarge)
        {
            // No resynchronisation: the bad header stays at the head and is refused again.
            IpcStatus again = IpcStatus.Ok;
            try
            {
                reader.TryPeek(out _, out _);
            }
            catch (Exception e)
            {
                again = Invariant.Refusal(e, IpcStatus.Protocol, IpcStatus.FrameTooLarge).Status;
            }

            Invariant.Check(again == end, $"after a {end} refusal the reader looked past the bad header ({again})");
        }
    }

    /// <summary>The dapper_ipc_recv loop (Manager/PullReader.cs) over the same reader calls.</summary>
    private static void Pull(FrameReader reader, ScriptedStream stream, List<(byte, byte[])> delivered, long capacityLimit)
    {
        while (true)
        {
            if (reader.TryPeek(out byte kind, out int length))
            {
                delivered.Add((kind, reader.PeekedPayload(length).ToArray()));
                reader.Consume(length);
                continue;
            }

            Span<byte> free = reader.FreeSpace();
            Invariant.Check(reader.Capacity <= capacityLimit, $"the buffer grew to {reader.Capacity} bytes, beyond a whole frame of the maximum ({capacityLimit})");
            int received = stream.Read(free);
            if (received == 0)
            {
                int pending = reader.Pending;
                if (pending == 0)
                {
                    return;
                }

                throw new IpcException(IpcStatus.Closed, $"closed in the middle of a frame ({pending} bytes of it received)");
            }

            reader.Commit(received);
        }
    }

    /// <summary>
    /// The protocol as docs/protocol.md states it, walked over the whole stream: the frames a
    /// reader must deliver, and how the stream ends.
    /// </summary>
    private static List<(byte Kind, byte[] Payload)> Reference(ReadOnlySpan<byte> s, uint max, out IpcStatus end)
    {
        var frames = new List<(byte, byte[])>();
        while (true)
        {
            if (s.IsEmpty)
            {
                end = IpcStatus.Ok;
                return frames;
            }

            if (s.Length < 8)
            {
                end = IpcStatus.Closed;
                return frames;
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(s[4..]);
            if (s[0] != (byte)'D' || s[1] != (byte)'P' || s[2] != 1)
            {
                end = IpcStatus.Protocol;
                return frames;
            }

            if (length > max)
            {
                end = IpcStatus.FrameTooLarge;
                return frames;
            }

            if ((ulong)s.Length < 8 + (ulong)length)
            {
                end = IpcStatus.Closed;
                return frames;
            }

            frames.Add((s[3], s.Slice(8, (int)length).ToArray()));
            s = s[(8 + (int)length)..];
        }
    }

    private sealed class Source(ScriptedStream stream, FrameReader reader, long capacityLimit) : IFrameSource
    {
        public int Receive(Span<byte> buffer)
        {
            Invariant.Check(reader.Capacity <= capacityLimit, $"the buffer grew to {reader.Capacity} bytes, beyond a whole frame of the maximum ({capacityLimit})");
            return stream.Read(buffer);
        }
    }

    private sealed class BatchRecorder(List<(byte, byte[])> delivered, FrameReader reader, long capacityLimit, uint max, bool stopEach)
        : IFrameHandler
    {
        public bool OnFrames(ReadOnlySpan<NativeFrame> frames)
        {
            Invariant.Check(frames.Length is > 0 and <= FrameReader.BatchSize, $"a batch of {frames.Length} frames (1 to {FrameReader.BatchSize} expected)");
            Invariant.Check(reader.Capacity <= capacityLimit, $"the buffer grew to {reader.Capacity} bytes, beyond a whole frame of the maximum ({capacityLimit})");
            foreach (var frame in frames)
            {
                Invariant.Check(frame.Length <= max && frame.Kind is >= 0 and <= 255, $"a batched frame of kind {frame.Kind} and {frame.Length} bytes (maximum {max})");
                delivered.Add(((byte)frame.Kind, frame.PayloadSpan.ToArray()));
            }

            return !stopEach;
        }
    }
}
