using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// A socket connection on Linux, macOS and the BSDs: recv and a gathered sendmsg on the
/// descriptor, through Native/socket_io.c (which knows msghdr, the no-SIGPIPE mechanism
/// and errno). The socket is in blocking mode (it is only ever used synchronously), so
/// the calls block this thread and nothing else: no event loop, no thread hop.
/// </summary>
internal sealed unsafe class PosixSocketConnection : SocketConnection
{
    /// <summary>Most frames one sendmsg carries: two iovecs each, well under IOV_MAX (1024 on Linux and macOS).</summary>
    private const int FramesPerWrite = 256;

    /// <summary>Result of <see cref="WriteAll"/> (next to the shim's negative classes): the call's send timeout ran out between two writes.</summary>
    private const int DeadlinePassed = 1;

    private readonly int _fd;

    public PosixSocketConnection(Socket socket, ConnectionOptions options, string description) : base(socket, options, description)
    {
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        MeasuresBlockedTime = true;
        _ = SocketShim.Configure(_fd);
    }

    protected override int ReceiveCore(Span<byte> buffer)
    {
        if (Tls is not null)
        {
            return TlsReceive(buffer, -1);
        }

        fixed (byte* p = buffer)
        fixed (long* stamp = &ReadStamp)
        {
            int errno = 0;
            nint n = SocketShim.Recv(_fd, p, (nuint)buffer.Length, stamp, &errno);
            return n >= 0 ? (int)n : throw Error((int)n, errno, "recv");
        }
    }

    protected override int ReceiveCore(Span<byte> buffer, int timeoutMs)
    {
        if (Tls is not null)
        {
            return TlsReceive(buffer, timeoutMs);
        }

        fixed (byte* p = buffer)
        {
            nint n = SocketShim.RecvWait(_fd, p, (nuint)buffer.Length, timeoutMs);
            if (n >= 0)
            {
                return (int)n;
            }

            return (int)n == (int)ErrnoClass.WouldBlock
                ? -1
                : throw Error((int)n, Marshal.GetLastPInvokeError(), "recv");
        }
    }

    protected override bool FlushesDelayedAcks => OperatingSystem.IsLinux();

    // A unix socket keeps nothing of ours once its read side is shut: what we sent is in
    // the peer's receive queue already. tcp needs the acknowledged count (FlushCore).
    protected override bool CanStopReceiving
        => Socket.AddressFamily == AddressFamily.Unix || SocketShim.Unacked(_fd) >= 0;

    /// <summary>
    /// unix: shuts the read side (the peer can add nothing more; a blocked receive wakes),
    /// drops what is queued, so the close that follows is an end-of-file for the peer and
    /// not ECONNRESET (Linux reports a unix socket closed with unread input as a reset
    /// once the peer has read everything), and returns: what we sent is already in the
    /// peer's receive queue and outlives our descriptor.
    /// tcp: waits, dropping input meanwhile, until the peer's kernel has acknowledged all
    /// the data we sent and our FIN has gone out (SocketShim.Unacked), so the reset that a
    /// close with unread input makes can no longer cost a frame, and the peer, holding our
    /// FIN, still reads an end-of-file after the last frame. The peer need not read or
    /// close: on loopback the acknowledgement is usually there before the first check.
    /// Only a peer that has stopped reading, with our data in flight, holds this until
    /// the deadline.
    /// </summary>
    protected override void FlushCore()
    {
        ShutdownCore();
        bool tcp = Socket.ProtocolType == ProtocolType.Tcp;
        if (tcp && SocketShim.Unacked(_fd) < 0)
        {
            base.FlushCore(); // the OS cannot tell: wait for the peer's end-of-file
            return;
        }

        int pauseMs = 0;
        while (SocketShim.Discard(_fd) >= 0 && tcp && SocketShim.Unacked(_fd) > 0
               && LingerRemainingMs > 0)
        {
            // No readiness event says "acknowledged" (and a shut read side polls readable
            // for ever), so wait in short steps: a yield first, then up to 5 ms.
            Thread.Sleep(pauseMs);
            pauseMs = Math.Min(5, pauseMs + 1);
        }
    }

    protected override void FlushDelayedAck() => SocketShim.FlushDelayedAck(_fd);

    protected override void WritePlain(ReadOnlySpan<NativeFrame> frames)
    {
        if (frames.Length == 1)
        {
            WriteOne(frames[0]);
            return;
        }

        WriteGathered(frames, webSocket: false);
    }

    /// <summary>
    /// <see cref="WriteGathered"/> for the commonest send, one frame on the bare stream:
    /// the same sendmsg without the batch's bookkeeping (the frame path's instruction budget).
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    private void WriteOne(in NativeFrame frame)
    {
        AckRidesOnThisWrite();
        var deadline = new SendDeadline(Socket);
        WriteStarted = deadline.Start;
        try
        {
            byte* header = stackalloc byte[FrameHeader.Size];
            FrameHeader.Write(new Span<byte>(header, FrameHeader.Size), (byte)frame.Kind, (uint)frame.Length);
            SocketShim.IoVec* iov = stackalloc SocketShim.IoVec[2];
            iov[0].Base = header;
            iov[0].Length = FrameHeader.Size;
            iov[1].Base = frame.Payload;
            iov[1].Length = frame.Length;
            int result = WriteAll(iov, frame.Length != 0 ? 2 : 1, ref deadline, out long sent, out int errno);
            if (result != 0)
            {
                // Not all of it went out (WriteAll returns 0 once everything did).
                throw result is DeadlinePassed or (int)ErrnoClass.WouldBlock
                    ? SendTimedOut(sent, FrameHeader.Size + (long)frame.Length, 0)
                    : Error(result, errno, "send", 0);
            }
        }
        finally
        {
            deadline.Restore();
        }
    }

    /// <summary>
    /// Server side: as the plain write, each frame's websocket header just before its DP
    /// header in the same iovec, the payload gathered as it is (no copy). Client side:
    /// every byte must be masked, so each frame is masked into a kept scratch buffer and
    /// goes out in its own sendmsg.
    /// </summary>
    protected override void WriteWebSocket(ReadOnlySpan<NativeFrame> frames)
    {
        if (WsKeys is null)
        {
            WriteGathered(frames, webSocket: true);
            return;
        }

        AckRidesOnThisWrite();
        var deadline = new SendDeadline(Socket);
        try
        {
            byte* header = stackalloc byte[Ws.WsFrame.MaxHeaderSize];
            SocketShim.IoVec* iov = stackalloc SocketShim.IoVec[2];
            for (int i = 0; i < frames.Length; i++)
            {
                int length = FrameHeader.Size + (int)frames[i].Length;
                uint key = WsKeys.Next();
                int headerSize = Ws.WsFrame.WriteHeader(new Span<byte>(header, Ws.WsFrame.MaxHeaderSize), Ws.WsFrame.Binary, (ulong)length, key);
                byte[] scratch = WsScratch(length);
                FrameHeader.Write(scratch, (byte)frames[i].Kind, (uint)frames[i].Length);
                frames[i].PayloadSpan.CopyTo(scratch.AsSpan(FrameHeader.Size));
                Ws.WsMask.Apply(scratch.AsSpan(0, length), key, 0);
                fixed (byte* p = scratch)
                {
                    long sent = 0;
                    int errno = 0;
                    iov[0].Base = header;
                    iov[0].Length = (nuint)headerSize;
                    iov[1].Base = p;
                    iov[1].Length = (nuint)length;
                    int result = i > 0 && !deadline.LowerToRemaining()
                        ? DeadlinePassed
                        : WriteAll(iov, 2, ref deadline, out sent, out errno);
                    if (result != 0 && Tls is not null)
                    {
                        throw TlsSendFailed(result, errno, sent, headerSize + length, i);
                    }

                    if (result != 0)
                    {
                        throw result is DeadlinePassed or (int)ErrnoClass.WouldBlock
                            ? SendTimedOut(result is DeadlinePassed ? 0 : sent, headerSize + length, i)
                            : Error(result, errno, "send", i);
                    }
                }
            }
        }
        finally
        {
            deadline.Restore();
        }
    }

    protected override void SendControlNow(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            if (Tls is not null)
            {
                // A record cannot be dropped whole once begun: wait a little for room instead.
                SocketShim.IoVec iov = new() { Base = p, Length = (nuint)frame.Length };
                if (TlsWrite(&iov, 1, ControlWaitMs, out _, out bool cut, out _) != 0 && cut)
                {
                    throw new IpcException(IpcStatus.Io, "a websocket control frame went out in part") { StreamCut = true };
                }

                return;
            }

            nint n = SocketShim.SendNoWait(_fd, p, (nuint)frame.Length);
            if (n >= 0 && n < frame.Length)
            {
                throw new IpcException(IpcStatus.Io, "a websocket control frame went out in part") { StreamCut = true };
            }
        }
    }

    /// <summary>
    /// Writes the frames in order, one sendmsg per <see cref="FramesPerWrite"/> (a single
    /// frame: one sendmsg of header and payload); for a websocket server, each header is the
    /// frame's websocket header followed by its DP header. Throws IpcException with the
    /// frames fully written (StreamCut when a frame went out in part).
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit] // the stack buffers are written before they are read
    private void WriteGathered(ReadOnlySpan<NativeFrame> frames, bool webSocket)
    {
        AckRidesOnThisWrite();
        // One deadline for the whole call, however many sendmsg calls it takes.
        var deadline = new SendDeadline(Socket);
        WriteStarted = deadline.Start;
        try
        {
            int slot = webSocket ? FrameHeader.Size + Ws.WsFrame.MaxHeaderSize : FrameHeader.Size;
            int perWrite = Math.Min(frames.Length, FramesPerWrite);
            byte* headers = stackalloc byte[perWrite * slot];
            int* headerSizes = stackalloc int[perWrite];
            SocketShim.IoVec* iov = stackalloc SocketShim.IoVec[perWrite * 2];
            for (int first = 0; first < frames.Length; first += FramesPerWrite)
            {
                ReadOnlySpan<NativeFrame> chunk = frames.Slice(first, Math.Min(FramesPerWrite, frames.Length - first));
                int count = 0;
                for (int i = 0; i < chunk.Length; i++)
                {
                    byte* header = headers + i * slot;
                    int size = webSocket
                        ? Ws.WsFrame.WriteHeader(new Span<byte>(header, slot), Ws.WsFrame.Binary, FrameHeader.Size + (ulong)chunk[i].Length, 0)
                        : 0;
                    FrameHeader.Write(new Span<byte>(header + size, FrameHeader.Size), (byte)chunk[i].Kind, (uint)chunk[i].Length);
                    size += FrameHeader.Size;
                    headerSizes[i] = size;
                    iov[count].Base = header;
                    iov[count++].Length = (nuint)size;
                    if (chunk[i].Length != 0)
                    {
                        iov[count].Base = chunk[i].Payload;
                        iov[count++].Length = chunk[i].Length;
                    }
                }

                // A later part of a batch: the deadline has been running since the batch began.
                long sent = 0;
                int errno = 0;
                int result = first > 0 && !deadline.LowerToRemaining()
                    ? DeadlinePassed
                    : WriteAll(iov, count, ref deadline, out sent, out errno);
                if (result != 0)
                {
                    // Report the frames that went out whole; a frame cut in two ends the stream.
                    int whole = 0;
                    long end = 0;
                    while (whole < chunk.Length && end + headerSizes[whole] + (long)chunk[whole].Length <= sent)
                    {
                        end += headerSizes[whole] + (long)chunk[whole].Length;
                        whole++;
                    }

                    if (Tls is not null)
                    {
                        // tls counts bytes OpenSSL took, which may all be in (the last record
                        // still on its way out): then no frame of this chunk is known delivered.
                        bool allTaken = whole == chunk.Length;
                        throw TlsSendFailed(result, errno, allTaken ? 0 : sent - end,
                            allTaken ? 0 : headerSizes[whole] + (long)chunk[whole].Length, first + (allTaken || _tlsCut ? 0 : whole));
                    }

                    throw result is DeadlinePassed or (int)ErrnoClass.WouldBlock
                        ? SendTimedOut(sent - end, headerSizes[whole] + (long)chunk[whole].Length, first + whole)
                        : Error(result, errno, "send", first + whole);
                }
            }
        }
        finally
        {
            deadline.Restore();
        }
    }

    /// <summary>
    /// Writes every byte the iovecs describe, resuming after partial writes (a large frame,
    /// a full socket buffer). Returns 0, or what stopped it (<see cref="DeadlinePassed"/>
    /// or the shim's class, with <paramref name="errno"/>), with <paramref name="sent"/>
    /// bytes out either way. The iovecs are consumed.
    /// </summary>
    private int WriteAll(SocketShim.IoVec* iov, int count, ref SendDeadline deadline, out long sent, out int errno)
    {
        if (Tls is not null)
        {
            return TlsWriteAll(iov, count, deadline.Start, out sent, out errno);
        }

        sent = 0;
        errno = 0;
        int first = 0;
        int result = 0;
        // The first attempt never waits: when it cannot write everything the peer is not
        // keeping up, and from then until the call ends is what send_blocked_ns counts.
        long blockedSince = 0;
        while (first < count)
        {
            int error = 0;
            nint n = blockedSince == 0
                ? SocketShim.SendVNoWait(_fd, iov + first, count - first, &error)
                : SocketShim.SendV(_fd, iov + first, count - first, &error);
            if (n < 0)
            {
                if (n == (int)ErrnoClass.WouldBlock && blockedSince == 0)
                {
                    blockedSince = Stopwatch.GetTimestamp(); // no room at all: wait for it
                    continue;
                }

                if (n != (int)ErrnoClass.Interrupted)
                {
                    errno = error;
                    result = (int)n;
                    break;
                }
            }
            else
            {
                sent += n;
                SocketShim.IoVec.Consume(iov, count, ref first, (nuint)n);
            }

            if (first < count)
            {
                if (blockedSince == 0)
                {
                    blockedSince = Stopwatch.GetTimestamp(); // partial: the rest waits for room
                }
                else if (!deadline.LowerToRemaining())
                {
                    // Interrupted or partial: the next sendmsg gets what is left of the deadline.
                    result = DeadlinePassed;
                    break;
                }
            }
        }

        if (blockedSince != 0)
        {
            AddBlocked(Stopwatch.GetTimestamp() - blockedSince);
        }

        return result;
    }

    /// <summary>How long a websocket control frame over tls waits for room.</summary>
    private const int ControlWaitMs = 50;

    /// <summary>
    /// <see cref="WriteAll"/> through the tls session, which waits for room itself (the
    /// descriptor is non-blocking): the send timeout counts from <paramref name="start"/>.
    /// A record left half out cannot be taken back, so any failure then cuts the stream.
    /// </summary>
    private int TlsWriteAll(SocketShim.IoVec* iov, int count, long start, out long sent, out int errno)
    {
        int timeoutMs = SendTimeoutMs;
        if (timeoutMs > 0)
        {
            timeoutMs = Math.Max(1, timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        int result = TlsWrite(iov, count, timeoutMs, out sent, out bool cut, out errno);
        if (result != 0 && cut)
        {
            _tlsCut = true;
        }

        return result;
    }

    private bool _tlsCut;

    /// <summary>
    /// The send timeout as one deadline for a whole send or send_batch: SO_SNDTIMEO applies
    /// to each sendmsg, so after a partial write it is lowered to the time left before the
    /// next one, and put back when the call ends. A call that writes everything at once
    /// never touches the socket option.
    /// </summary>
    private struct SendDeadline(Socket socket)
    {
        private readonly long _start = Stopwatch.GetTimestamp();

        public readonly long Start => _start;
        private int _configuredMs = -1; // read from the socket at the first partial write
        private bool _lowered;

        /// <summary>Before the next sendmsg of a call that has not finished: false when nothing is left.</summary>
        public bool LowerToRemaining()
        {
            try
            {
                if (_configuredMs < 0)
                {
                    _configuredMs = socket.SendTimeout;
                }

                if (_configuredMs <= 0)
                {
                    return true; // no limit
                }

                double left = _configuredMs - Stopwatch.GetElapsedTime(_start).TotalMilliseconds;
                if (left < 1)
                {
                    return false;
                }

                socket.SendTimeout = (int)Math.Ceiling(left);
                _lowered = true;
                return true;
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return true; // closed meanwhile: the next sendmsg reports it
            }
        }

        public readonly void Restore()
        {
            if (!_lowered)
            {
                return;
            }

            try
            {
                socket.SendTimeout = _configuredMs;
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                // Closed meanwhile (cleanup): nothing left to restore.
            }
        }
    }

    /// <summary>A failed tls write: as <see cref="SendTimedOut"/>, except that a record left half out cuts the stream even when no frame byte counted as sent.</summary>
    private IpcException TlsSendFailed(int result, int errno, long sentOfFrame, long total, int framesSent)
    {
        bool cut = _tlsCut;
        _tlsCut = false;
        if (result is DeadlinePassed or (int)ErrnoClass.WouldBlock)
        {
            return cut && sentOfFrame == 0
                ? new IpcException(IpcStatus.SendTimeout, "send timed out: the peer stopped reading, and a tls record of the frame went out in part; the stream is cut, so the connection is closed") { StreamCut = true, FramesSent = framesSent }
                : SendTimedOut(sentOfFrame, total, framesSent);
        }

        return TlsWriteError(result, errno, framesSent);
    }

    private static IpcException SendTimedOut(long sent, long total, int framesSent) => sent == 0
        ? new IpcException(IpcStatus.SendTimeout, "send timed out: the peer has not read for the whole send timeout; nothing of the frame was sent and the connection is still usable") { FramesSent = framesSent }
        : new IpcException(IpcStatus.SendTimeout, $"send timed out after {sent} of {total} bytes of the frame: the peer stopped reading; the stream is cut, so the connection is closed") { StreamCut = true, FramesSent = framesSent };

    private static IpcException Error(int errnoClass, int errno, string call, int framesSent = 0)
    {
        string text = $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
        return errnoClass == (int)ErrnoClass.PeerGone
            ? new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({text})") { FramesSent = framesSent }
            : new IpcException(IpcStatus.Io, text) { FramesSent = framesSent };
    }
}
