using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// recv and sendmsg on the socket's file descriptor. The socket is in blocking mode
/// (it is only ever used synchronously), so the calls block this thread and nothing
/// else: no event loop, no thread hop.
/// </summary>
internal abstract unsafe class PosixSocketIO : SocketIO
{
    public override int Receive(Socket socket, nint handle, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.Recv(handle, p, (nuint)buffer.Length, 0);
                if (n >= 0)
                {
                    return (int)n;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    throw Error(errno, "recv");
                }
            }
        }
    }

    public override void SendAll(Socket socket, nint handle, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        fixed (byte* h = header)
        fixed (byte* p = payload)
        {
            LibC.IoVec* iov = stackalloc LibC.IoVec[2];
            iov[0].Base = h;
            iov[0].Length = (nuint)header.Length;
            iov[1].Base = p;
            iov[1].Length = (nuint)payload.Length;
            long sent = 0;
            int errno = WriteAll(socket, handle, iov, payload.Length == 0 ? 1 : 2, ref sent);
            if (errno != 0)
            {
                throw TimedOut(errno) ? SendTimedOut(sent, header.Length + (long)payload.Length) : Error(errno, "send");
            }
        }
    }

    /// <summary>Most frames one sendmsg carries: two iovecs each, well under IOV_MAX (1024 on Linux and macOS).</summary>
    private const int FramesPerWrite = 256;

    /// <summary>
    /// Blocking write of a batch of frames in order, one sendmsg per <see cref="FramesPerWrite"/>.
    /// <paramref name="framesSent"/> is kept at the number of frames fully written, also
    /// when it throws. Throws IpcException (StreamCut when a frame went out in part).
    /// </summary>
    public void SendFrames(Socket socket, nint handle, ReadOnlySpan<OutgoingFrame> frames, ref int framesSent)
    {
        // One deadline for the whole batch, however many sendmsg calls it takes.
        long start = Stopwatch.GetTimestamp();
        byte* headers = stackalloc byte[FramesPerWrite * FrameHeader.Size];
        LibC.IoVec* iov = stackalloc LibC.IoVec[FramesPerWrite * 2];
        for (int first = 0; first < frames.Length; first += FramesPerWrite)
        {
            ReadOnlySpan<OutgoingFrame> chunk = frames.Slice(first, Math.Min(FramesPerWrite, frames.Length - first));
            int count = 0;
            for (int i = 0; i < chunk.Length; i++)
            {
                byte* header = headers + i * FrameHeader.Size;
                FrameHeader.Write(new Span<byte>(header, FrameHeader.Size), (byte)chunk[i].Kind, (uint)chunk[i].Length);
                iov[count].Base = header;
                iov[count++].Length = FrameHeader.Size;
                if (chunk[i].Length != 0)
                {
                    iov[count].Base = chunk[i].Payload;
                    iov[count++].Length = chunk[i].Length;
                }
            }

            long sent = 0;
            int errno = WriteAll(socket, handle, iov, count, ref sent, start, resumed: first > 0);
            if (errno != 0)
            {
                // Report the frames that went out whole; a frame cut in two ends the stream.
                int whole = 0;
                long end = 0;
                while (whole < chunk.Length && end + FrameHeader.Size + (long)chunk[whole].Length <= sent)
                {
                    end += FrameHeader.Size + (long)chunk[whole].Length;
                    whole++;
                }

                framesSent = first + whole;
                throw TimedOut(errno)
                    ? SendTimedOut(sent - end, FrameHeader.Size + (long)chunk[whole].Length)
                    : Error(errno, "send");
            }

            framesSent = first + chunk.Length;
        }
    }

    /// <summary>
    /// Writes every byte the iovecs describe, resuming after partial writes (a large frame,
    /// a full socket buffer). Returns 0, or the errno that stopped it with <paramref name="sent"/>
    /// bytes out. The iovecs are consumed.
    /// </summary>
    /// <remarks>
    /// The send timeout is one deadline for the whole call (send or send_batch), counted
    /// from <paramref name="start"/>: SO_SNDTIMEO applies to each sendmsg, so after a
    /// partial write it is lowered to the time left before the next one, and put back
    /// when the call ends. A call that writes everything at once costs nothing extra.
    /// </remarks>
    private int WriteAll(Socket socket, nint handle, LibC.IoVec* iov, int count, ref long sent, long start = 0, bool resumed = false)
    {
        if (start == 0)
        {
            start = Stopwatch.GetTimestamp();
        }

        int first = 0;
        int configuredMs = -1; // read from the socket at the first partial write
        bool lowered = false;
        try
        {
            // A later part of a batch: the deadline has been running since the batch began.
            if (resumed && !LowerToRemaining(socket, start, ref configuredMs, ref lowered))
            {
                return DeadlinePassed;
            }

            while (first < count)
            {
                nint n = SendMsg(handle, iov + first, count - first);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != LibC.EINTR)
                    {
                        return errno;
                    }
                }
                else
                {
                    sent += n;
                    nuint advance = (nuint)n;
                    while (first < count && advance >= iov[first].Length)
                    {
                        advance -= iov[first].Length;
                        first++;
                    }

                    if (first < count)
                    {
                        iov[first].Base = (byte*)iov[first].Base + advance;
                        iov[first].Length -= advance;
                    }
                }

                if (first < count && !LowerToRemaining(socket, start, ref configuredMs, ref lowered))
                {
                    return DeadlinePassed;
                }
            }

            return 0;
        }
        finally
        {
            if (lowered)
            {
                try
                {
                    socket.SendTimeout = configuredMs;
                }
                catch (Exception e) when (e is ObjectDisposedException or SocketException)
                {
                    // Closed meanwhile (cleanup): nothing left to restore.
                }
            }
        }
    }

    /// <summary>Errno-like result of <see cref="WriteAll"/>: the call's send timeout ran out between two writes.</summary>
    private const int DeadlinePassed = -1;

    private bool TimedOut(int errno) => errno == DeadlinePassed || IsTimeout(errno);

    /// <summary>
    /// Before the next sendmsg of a call that has not finished: sets SO_SNDTIMEO to what
    /// is left of the configured send timeout. False when nothing is left.
    /// </summary>
    private static bool LowerToRemaining(Socket socket, long start, ref int configuredMs, ref bool lowered)
    {
        try
        {
            if (configuredMs < 0)
            {
                configuredMs = socket.SendTimeout;
            }

            if (configuredMs <= 0)
            {
                return true; // no limit
            }

            double left = configuredMs - Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (left < 1)
            {
                return false;
            }

            socket.SendTimeout = (int)Math.Ceiling(left);
            lowered = true;
            return true;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return true; // closed meanwhile: the next sendmsg reports it
        }
    }

    /// <summary>sendmsg with this platform's msghdr layout and no-SIGPIPE mechanism.</summary>
    protected abstract nint SendMsg(nint handle, LibC.IoVec* iov, int count);

    /// <summary>True for the errno values that mean the peer is gone.</summary>
    protected abstract bool IsPeerGone(int errno);

    /// <summary>True for EAGAIN/EWOULDBLOCK: SO_SNDTIMEO ran out.</summary>
    protected abstract bool IsTimeout(int errno);

    internal static IpcException SendTimedOut(long sent, long total) => sent == 0
        ? new IpcException(IpcStatus.SendTimeout, "send timed out: the peer has not read for the whole send timeout; nothing of the frame was sent and the connection is still usable")
        : new IpcException(IpcStatus.SendTimeout, $"send timed out after {sent} of {total} bytes of the frame: the peer stopped reading; the stream is cut, so the connection is closed") { StreamCut = true };

    private IpcException Error(int errno, string call)
    {
        string text = $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
        return IsPeerGone(errno)
            ? new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({text})")
            : new IpcException(IpcStatus.Io, text);
    }
}
