using System;
using System.Runtime.InteropServices;
using System.Threading;
using DapperIpc.Framing;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Transports.Adopted;

/// <summary>
/// A connection over a pair of descriptors that are not a socket (a pipe pair: a child's
/// stdout and stdin, or a process's own stdin and stdout for the stdio transport). The
/// I/O is Native/fd_io.c: poll, then read or write, the poll also watching a wake pipe
/// that closing writes to, so a blocked reader or sender wakes without the descriptors'
/// flags ever changing. A pipe has no half-close: the peer reads end-of-file when the
/// write descriptor is closed, which <see cref="DisposeCore"/> does for owned descriptors.
/// </summary>
internal sealed unsafe class FdConnection : ConnectionBase
{
    /// <summary>Most frames gathered into one write call (the shim writes at most PIPE_BUF of them at a time).</summary>
    private const int FramesPerWrite = 32;

    private readonly int _read;
    private readonly int _write;
    private readonly bool _owned;
    private readonly int _wakeRead;
    private readonly int _wakeWrite;
    private readonly int _sendTimeoutMs;
    private int _woken;

    public FdConnection(int read, int write, bool owned, ConnectionOptions options, string description) : base(options.MaxPayload)
    {
        int* fds = stackalloc int[2];
        if (FdIo.WakePipe(fds) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IpcException(IpcStatus.Io, $"making the wake pipe of {description} failed: {LibC.Describe(errno)}")
            {
                OutOfDescriptors = errno is 23 or 24, // ENFILE, EMFILE
            };
        }

        _wakeRead = fds[0];
        _wakeWrite = fds[1];
        _read = read;
        _write = write;
        _owned = owned;
        _sendTimeoutMs = options.SendTimeoutMs;
        Description = description;
    }

    public override string Description { get; }

    public override nint PollHandle => _read;

    protected override bool CanStopReceiving => true; // what we wrote is in the pipe already

    public override int Receive(Span<byte> buffer) => Receive(buffer, -1);

    public override int Receive(Span<byte> buffer, int timeoutMs)
    {
        fixed (byte* p = buffer)
        {
            nint n = FdIo.Read(_read, _wakeRead, p, (nuint)buffer.Length, timeoutMs);
            return n switch
            {
                >= 0 => (int)n,
                FdIo.TimedOut => -1,
                FdIo.Woken => 0,
                _ => throw Error("read"),
            };
        }
    }

    protected override void WriteFrames(ReadOnlySpan<NativeFrame> frames)
    {
        long deadline = _sendTimeoutMs > 0 ? Deadline(_sendTimeoutMs) : 0;
        int perWrite = Math.Min(frames.Length, FramesPerWrite);
        byte* headers = stackalloc byte[perWrite * FrameHeader.Size];
        SocketShim.IoVec* iov = stackalloc SocketShim.IoVec[perWrite * 2];
        for (int first = 0; first < frames.Length; first += FramesPerWrite)
        {
            ReadOnlySpan<NativeFrame> chunk = frames.Slice(first, Math.Min(FramesPerWrite, frames.Length - first));
            int count = 0;
            long total = 0;
            for (int i = 0; i < chunk.Length; i++)
            {
                FrameHeader.Write(new Span<byte>(headers + i * FrameHeader.Size, FrameHeader.Size), (byte)chunk[i].Kind, (uint)chunk[i].Length);
                iov[count].Base = headers + i * FrameHeader.Size;
                iov[count++].Length = FrameHeader.Size;
                if (chunk[i].Length != 0)
                {
                    iov[count].Base = chunk[i].Payload;
                    iov[count++].Length = chunk[i].Length;
                }

                total += FrameHeader.Size + (long)chunk[i].Length;
            }

            long sent = 0;
            int at = 0;
            while (sent < total)
            {
                int wait = -1;
                if (deadline != 0)
                {
                    long left = (deadline - System.Diagnostics.Stopwatch.GetTimestamp()) * 1000 / System.Diagnostics.Stopwatch.Frequency;
                    wait = (int)Math.Max(0, left);
                }

                nint n = FdIo.WriteV(_write, _wakeRead, iov + at, count - at, wait);
                if (n < 0)
                {
                    IpcException e = n switch
                    {
                        FdIo.TimedOut => new IpcException(IpcStatus.SendTimeout, $"send timed out on {Description}: the peer has not read for the whole send timeout"),
                        FdIo.Woken => new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed"),
                        _ => Error("write"),
                    };
                    throw new IpcException(e.Status, e.Message)
                    {
                        FramesSent = first + WholeFrames(chunk, sent),
                        StreamCut = sent != 0 && !IsFrameEnd(chunk, sent),
                    };
                }

                sent += n;
                SocketShim.IoVec.Consume(iov, count, ref at, (nuint)n);
            }
        }
    }

    private static int WholeFrames(ReadOnlySpan<NativeFrame> chunk, long sent)
    {
        int whole = 0;
        long end = 0;
        while (whole < chunk.Length && end + FrameHeader.Size + (long)chunk[whole].Length <= sent)
        {
            end += FrameHeader.Size + (long)chunk[whole].Length;
            whole++;
        }

        return whole;
    }

    private static bool IsFrameEnd(ReadOnlySpan<NativeFrame> chunk, long sent)
    {
        long end = 0;
        foreach (NativeFrame f in chunk)
        {
            if (end == sent)
            {
                return true;
            }

            end += FrameHeader.Size + (long)f.Length;
        }

        return end == sent;
    }

    protected override void ShutdownCore()
    {
        if (Interlocked.Exchange(ref _woken, 1) == 0)
        {
            FdIo.Wake(_wakeWrite);
        }
    }

    protected override void DisposeCore()
    {
        if (_owned)
        {
            _ = LibC.Close(_read);
            if (_write != _read)
            {
                _ = LibC.Close(_write);
            }
        }

        _ = LibC.Close(_wakeRead);
        _ = LibC.Close(_wakeWrite);
    }

    private IpcException Error(string call)
    {
        int errno = Marshal.GetLastPInvokeError();
        string text = $"{call} on {Description} failed: {LibC.Describe(errno)}";
        // EPIPE: the reader of our pipe is gone, as a peer that closed.
        return errno == 32
            ? new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({text})")
            : new IpcException(IpcStatus.Io, text);
    }
}
