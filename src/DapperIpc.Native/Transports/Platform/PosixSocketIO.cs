using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// recv and a gathered sendmsg on the socket's file descriptor, through Native/socket_io.c
/// (which knows msghdr, the no-SIGPIPE mechanism and errno). The socket is in blocking
/// mode (it is only ever used synchronously), so the calls block this thread and nothing
/// else: no event loop, no thread hop.
/// </summary>
internal sealed unsafe class PosixSocketIO : SocketIO
{
    /// <summary>Result of <see cref="WriteAll"/> (next to the shim's negative classes): the call's send timeout ran out between two writes.</summary>
    private const int DeadlinePassed = 1;

    public override void Configure(Socket socket, int sendTimeoutMs)
    {
        base.Configure(socket, sendTimeoutMs);
        _ = SocketShim.Configure((int)socket.SafeHandle.DangerousGetHandle());
    }

    public override int Receive(Socket socket, nint handle, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = SocketShim.Recv((int)handle, p, (nuint)buffer.Length, quickack: 0);
            return n >= 0 ? (int)n : throw Error((int)n, Marshal.GetLastPInvokeError(), "recv");
        }
    }

    public override void SendAll(Socket socket, nint handle, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        fixed (byte* h = header)
        fixed (byte* p = payload)
        {
            SocketShim.IoVec* iov = stackalloc SocketShim.IoVec[2];
            iov[0].Base = h;
            iov[0].Length = (nuint)header.Length;
            iov[1].Base = p;
            iov[1].Length = (nuint)payload.Length;
            long sent = 0;
            int result = WriteAll(socket, handle, iov, payload.Length == 0 ? 1 : 2, ref sent, out int errno);
            if (result != 0)
            {
                throw TimedOut(result) ? SendTimedOut(sent, header.Length + (long)payload.Length) : Error(result, errno, "send");
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
        SocketShim.IoVec* iov = stackalloc SocketShim.IoVec[FramesPerWrite * 2];
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
            int result = WriteAll(socket, handle, iov, count, ref sent, out int errno, start, resumed: first > 0);
            if (result != 0)
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
                throw TimedOut(result)
                    ? SendTimedOut(sent - end, FrameHeader.Size + (long)chunk[whole].Length)
                    : Error(result, errno, "send");
            }

            framesSent = first + chunk.Length;
        }
    }

    /// <summary>
    /// Writes every byte the iovecs describe, resuming after partial writes (a large frame,
    /// a full socket buffer). Returns 0, or what stopped it (<see cref="DeadlinePassed"/> or the
    /// shim's class, with <paramref name="errno"/>) with <paramref name="sent"/> bytes out. The
    /// iovecs are consumed.
    /// </summary>
    /// <remarks>
    /// The send timeout is one deadline for the whole call (send or send_batch), counted
    /// from <paramref name="start"/>: SO_SNDTIMEO applies to each sendmsg, so after a
    /// partial write it is lowered to the time left before the next one, and put back
    /// when the call ends. A call that writes everything at once costs nothing extra.
    /// </remarks>
    private static int WriteAll(Socket socket, nint handle, SocketShim.IoVec* iov, int count, ref long sent, out int errno, long start = 0, bool resumed = false)
    {
        errno = 0;
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
                nint n = SocketShim.SendV((int)handle, iov + first, count - first);
                if (n < 0)
                {
                    if (n != (int)ErrnoClass.Interrupted)
                    {
                        errno = Marshal.GetLastPInvokeError();
                        return (int)n;
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

                // Interrupted or partial: the next sendmsg gets what is left of the deadline.
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

    private static bool TimedOut(int result) => result is DeadlinePassed or (int)ErrnoClass.WouldBlock;

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

    internal static IpcException SendTimedOut(long sent, long total) => sent == 0
        ? new IpcException(IpcStatus.SendTimeout, "send timed out: the peer has not read for the whole send timeout; nothing of the frame was sent and the connection is still usable")
        : new IpcException(IpcStatus.SendTimeout, $"send timed out after {sent} of {total} bytes of the frame: the peer stopped reading; the stream is cut, so the connection is closed") { StreamCut = true };

    private static IpcException Error(int errnoClass, int errno, string call)
    {
        string text = $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
        return errnoClass == (int)ErrnoClass.PeerGone
            ? new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({text})")
            : new IpcException(IpcStatus.Io, text);
    }
}
