using DapperIpc.Framing;
using DapperIpc.Transports;

namespace DapperIpc.Tests;

/// <summary>
/// A byte source for framing unit tests: hands out a fixed byte sequence in chunks of
/// the given sizes, then end-of-stream. The transports themselves are tested over real
/// sockets elsewhere.
/// </summary>
internal sealed class ScriptedConnection(byte[] data, params int[] chunks) : ConnectionBase(1024 * 1024)
{
    private int _position;
    private int _chunk;

    public override string Description => "scripted";

    public override int Receive(Span<byte> buffer)
    {
        if (_position >= data.Length)
        {
            return 0;
        }

        int size = chunks.Length == 0 ? data.Length - _position : chunks[Math.Min(_chunk++, chunks.Length - 1)];
        int n = Math.Min(Math.Min(size, buffer.Length), data.Length - _position);
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    protected override void WriteFrames(ReadOnlySpan<NativeFrame> frames) => throw new NotSupportedException();

    protected override void ShutdownCore()
    {
    }

    protected override void DisposeCore()
    {
    }
}

/// <summary>A test's handler that looks at one frame at a time (the reader hands over batches).</summary>
internal abstract unsafe class PerFrameHandler : DapperIpc.Framing.IFrameHandler
{
    public bool OnFrames(ReadOnlySpan<NativeFrame> frames)
    {
        foreach (NativeFrame frame in frames)
        {
            if (!OnFrame((byte)frame.Kind, new ReadOnlySpan<byte>(frame.Payload, (int)frame.Length)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Return false to stop reading.</summary>
    public abstract bool OnFrame(byte kind, ReadOnlySpan<byte> payload);
}

/// <summary>Collects frames as (kind, payload copy).</summary>
internal sealed class FrameCollector : PerFrameHandler
{
    public List<(byte Kind, byte[] Payload)> Frames { get; } = [];

    public override bool OnFrame(byte kind, ReadOnlySpan<byte> payload)
    {
        Frames.Add((kind, payload.ToArray()));
        return true;
    }
}

internal static class Frames
{
    public static byte[] Encode(byte kind, byte[] payload)
    {
        var frame = new byte[DapperIpc.Framing.FrameHeader.Size + payload.Length];
        DapperIpc.Framing.FrameHeader.Write(frame, kind, (uint)payload.Length);
        payload.CopyTo(frame, DapperIpc.Framing.FrameHeader.Size);
        return frame;
    }

    public static byte[] Encode(byte kind, string json) => Encode(kind, System.Text.Encoding.UTF8.GetBytes(json));

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
