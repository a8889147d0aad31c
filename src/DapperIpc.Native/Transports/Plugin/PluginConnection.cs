using System;
using System.Threading;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Plugin;

/// <summary>
/// A connection whose bytes move through a registered transport's read and write ops,
/// called through the function pointers the host gave (no delegate, no marshalling).
/// Frames of up to <see cref="GatherBytes"/> are gathered, header and payload, into one
/// kept buffer so a send or batch of small frames is one write op; a larger frame goes out
/// as its header, then its payload where it lies. Everything else (framing, limits, the
/// reader, lifecycle) is ConnectionBase's and the manager's, as for a socket.
/// </summary>
internal sealed unsafe class PluginConnection : ConnectionBase
{
    /// <summary>Size of the gathering buffer, and the largest frame copied into it.</summary>
    private const int GatherBytes = 64 * 1024;

    private readonly PluginTransport _transport;
    private readonly void* _handle;
    private byte[]? _gather; // pinned, made at the first send; under the send lock
    private int _shutdown;
    private int _closed;

    public PluginConnection(PluginTransport transport, void* handle, ConnectionOptions options, string description)
        : base(options.MaxPayload)
    {
        _transport = transport;
        _handle = handle;
        Description = description;
    }

    public override string Description { get; }

    protected override bool CanStopReceiving => true; // shutdown wakes a blocked read (the ops' contract)

    public override int Receive(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = _transport.Ops.Read(_transport.User, _handle, p, (nuint)buffer.Length);
            if (n > buffer.Length)
            {
                throw new IpcException(IpcStatus.Protocol,
                    $"transport '{_transport.Name}': read returned {n}, more than the {buffer.Length} bytes asked for");
            }

            if (n >= 0)
            {
                return (int)n;
            }

            // A read the host's shutdown ended is our own close, not a failure.
            return Volatile.Read(ref _shutdown) != 0 ? 0 : throw _transport.Failed("read", n);
        }
    }

    protected override void WriteFrames(ReadOnlySpan<NativeFrame> frames)
    {
        byte[] gather = _gather ??= GC.AllocateUninitializedArray<byte>(GatherBytes, pinned: true);
        byte* header = stackalloc byte[FrameHeader.Size];
        fixed (byte* buffer = gather)
        {
            int fill = 0;
            int gatheredFrom = 0; // the first frame in the buffer
            for (int i = 0; i < frames.Length; i++)
            {
                int size = FrameHeader.Size + (int)frames[i].Length;
                if (size > GatherBytes || fill + size > GatherBytes)
                {
                    Flush(buffer, fill, frames, gatheredFrom, i);
                    fill = 0;
                    gatheredFrom = i;
                }

                if (size > GatherBytes)
                {
                    FrameHeader.Write(new Span<byte>(header, FrameHeader.Size), (byte)frames[i].Kind, (uint)frames[i].Length);
                    long failed = WriteAll(header, FrameHeader.Size);
                    if (failed < 0)
                    {
                        throw Cut(failed, i, cut: true); // at most part of a header: the peer cannot resync either way
                    }

                    failed = WriteAll((byte*)frames[i].Payload, (long)frames[i].Length);
                    if (failed < 0)
                    {
                        throw Cut(failed, i, cut: true);
                    }

                    gatheredFrom = i + 1;
                    continue;
                }

                FrameHeader.Write(new Span<byte>(buffer + fill, FrameHeader.Size), (byte)frames[i].Kind, (uint)frames[i].Length);
                frames[i].PayloadSpan.CopyTo(new Span<byte>(buffer + fill + FrameHeader.Size, (int)frames[i].Length));
                fill += size;
            }

            Flush(buffer, fill, frames, gatheredFrom, frames.Length);
        }
    }

    // Writes the gathered frames [from, to); on failure reports the frames that went out whole.
    private void Flush(byte* buffer, int fill, ReadOnlySpan<NativeFrame> frames, int from, int to)
    {
        if (fill == 0)
        {
            return;
        }

        long done = 0;
        while (done < fill)
        {
            nint n = _transport.Ops.Write(_transport.User, _handle, buffer + done, (nuint)(fill - done));
            if (n <= 0 || n > fill - done)
            {
                int whole = from;
                long end = 0;
                while (whole < to && end + FrameHeader.Size + (long)frames[whole].Length <= done)
                {
                    end += FrameHeader.Size + (long)frames[whole].Length;
                    whole++;
                }

                throw Cut(n, whole, cut: end != done);
            }

            done += n;
        }
    }

    // Writes len bytes: 0, or the op's failure (negative).
    private long WriteAll(byte* p, long len)
    {
        while (len > 0)
        {
            nint n = _transport.Ops.Write(_transport.User, _handle, p, (nuint)len);
            if (n <= 0 || n > len)
            {
                return n <= 0 ? Math.Min(n, -1) : (long)IpcStatus.Protocol;
            }

            p += n;
            len -= n;
        }

        return 0;
    }

    private IpcException Cut(long status, int framesSent, bool cut)
    {
        IpcException e = Volatile.Read(ref _shutdown) != 0
            ? new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed")
            : status > 0
                ? new IpcException(IpcStatus.Protocol, $"transport '{_transport.Name}': write returned {status}, more than it was given")
                : _transport.Failed("write", status == 0 ? (long)IpcStatus.Io : status);
        return new IpcException(e.Status, e.Message) { FramesSent = framesSent, StreamCut = cut };
    }

    protected override void ShutdownCore()
    {
        if (Interlocked.Exchange(ref _shutdown, 1) == 0)
        {
            _transport.Ops.Shutdown(_transport.User, _handle);
        }
    }

    protected override void DisposeCore()
    {
        ShutdownCore(); // the contract: close comes after shutdown
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _transport.Ops.Close(_transport.User, _handle);
        }
    }
}
