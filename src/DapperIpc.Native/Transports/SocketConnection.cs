using System;
using System.Net.Sockets;
using DapperIpc.Framing;
using DapperIpc.Transports.Platform;
using DapperIpc.Transports.Tls;
using DapperIpc.Transports.Ws;

namespace DapperIpc.Transports;

/// <summary>
/// A connection over a stream socket (unix or tcp). .NET's <see cref="Socket"/> sets it
/// up, owns the handle and closes it; the frame hot path (receive, and the gathered write
/// of ConnectionBase.WriteFrames) is the platform's own subclass:
/// <see cref="PosixSocketConnection"/> (the system calls of Native/socket_io.c on the
/// descriptor: one gathered write per frame or batch, no copy, one recv into the frame
/// buffer, all on the calling thread) or <see cref="WindowsSocketConnection"/> (.NET's
/// span-based Socket calls).
/// </summary>
internal abstract partial class SocketConnection : ConnectionBase, IWsWire
{
    // Set once, by UseWebSocket, before the connection is handed out: every DP frame then
    // travels as one binary websocket message (Transports/Ws).
    private WsReceiver? _ws;
    // Set once, by UseTls, before the connection is handed out (and before UseWebSocket
    // for wss): every byte then goes through the session (Transports/Tls, Native/tls.c).
    private TlsSession? _tls;
    private WsMaskKeys? _wsKeys; // we are the websocket client: our frames are masked
    private byte[]? _wsScratch;
    private volatile bool _wireCut; // a frame went out in part: no close frame may follow it
    private volatile bool _controlMustNotWait;

    /// <summary>How long Close waits for a sender to finish its frame before it writes the close frame.</summary>
    private const int CloseFrameWaitMs = 50;
    private readonly object _closeFrameGate = new();

    // End-of-file from the peer (not from our own read shutdown): whether closing may be a
    // FIN or must be a reset (see DisposeCore).
    private volatile bool _peerClosed;
    private volatile bool _readShut;

    private readonly bool _flushAcks; // tcp where a held-back ACK can be sent on request: see Receive
    // Data was read and nothing sent since: the kernel may be holding its ACK back (to put
    // it on our next frame). Written by the reader and by senders; a lost race costs at
    // most one setsockopt more, never a held ACK (senders clear it before they write).
    private volatile bool _ackHeld;

    private readonly int _sendTimeoutMs;

    protected SocketConnection(Socket socket, ConnectionOptions options, string description) : base(options.MaxPayload)
    {
        Socket = socket;
        _sendTimeoutMs = options.SendTimeoutMs;
        if (options.SendTimeoutMs > 0)
        {
            // SO_SNDTIMEO: a blocked send gives up with EAGAIN (WSAETIMEDOUT on Windows).
            socket.SendTimeout = options.SendTimeoutMs;
        }

        Description = description;
        if (socket.ProtocolType == ProtocolType.Tcp)
        {
            _flushAcks = FlushesDelayedAcks;
            ConfigureTcpAcks();
            TcpKeepAlive.Configure(socket);
        }
    }

    protected override bool CanWriteNow
    {
        get
        {
            try
            {
                return Socket.Poll(0, SelectMode.SelectWrite);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return true; // the write reports what is wrong
            }
        }
    }

    public override int BytesWaiting
    {
        get
        {
            try
            {
                return Socket.Available + (_tls is null ? 0 : TlsPending());
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return 0;
            }
        }
    }

    /// <summary>The connection for this platform.</summary>
    public static SocketConnection Create(Socket socket, ConnectionOptions options, string description)
        => OperatingSystem.IsWindows()
            ? new WindowsSocketConnection(socket, options, description)
            : new PosixSocketConnection(socket, options, description);

    protected Socket Socket { get; }

    public override string Description { get; }

    // Delayed ACKs: a peer without TCP_NODELAY that answers with two small writes (the
    // launcher: an event, then the response) holds the second until its first is
    // acknowledged, and Linux holds that ACK back ~40 ms hoping to send it with our next
    // frame, which waits for that second write: 44 ms per request. So before a receive
    // that may wait, when data was read and nothing sent since, the held ACK goes out at
    // once. In a plain request/response exchange our frame carries the ACK and this costs
    // nothing (no system call).
    public sealed override int Receive(Span<byte> buffer)
    {
        if (_ws is not null)
        {
            return _ws.Receive(buffer, -1);
        }

        if (_tls is null)
        {
            FlushHeldAck(); // tls: the shim flushes it only when the read waits
        }

        return Received(ReceiveCore(buffer));
    }

    public sealed override int Receive(Span<byte> buffer, int timeoutMs)
    {
        if (timeoutMs < 0)
        {
            return Receive(buffer);
        }

        if (_ws is not null)
        {
            return _ws.Receive(buffer, timeoutMs);
        }

        if (_tls is null)
        {
            FlushHeldAck();
        }

        return Received(ReceiveCore(buffer, timeoutMs));
    }

    /// <summary>
    /// Switches the connection to the websocket mapping once the opening handshake is done
    /// (before anyone else sees it). <paramref name="alreadyReceived"/>: bytes read past the
    /// handshake's head, the first of the peer's frames.
    /// </summary>
    internal void UseWebSocket(bool isClient, ReadOnlySpan<byte> alreadyReceived)
    {
        _wsKeys = isClient ? new WsMaskKeys() : null;
        _ws = new WsReceiver(this, isClient, MaxPayload, alreadyReceived, _wsKeys);
    }

    protected bool IsWebSocket => _ws is not null;

    /// <summary>Switches the connection to tls once the session's handshake is done (before anyone else sees it).</summary>
    internal void UseTls(TlsSession session) => _tls = session;

    /// <summary>The tls session, when the connection is tls or wss.</summary>
    protected TlsSession? Tls => _tls;

    /// <summary>The negotiated tls version ("TLSv1.3"), or null for a plain connection.</summary>
    internal string? TlsVersion => _tls?.Version;

    /// <summary>Sends handshake bytes on the bare socket (before <see cref="UseWebSocket"/>), within the send timeout.</summary>
    internal void SendHandshake(ReadOnlySpan<byte> data)
    {
        try
        {
            if (_tls is not null)
            {
                TlsSendAll(data, _sendTimeoutMs);
                return;
            }

            while (!data.IsEmpty)
            {
                data = data.Slice(Socket.Send(data, SocketFlags.None));
            }
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, "sending the websocket handshake");
        }
    }

    /// <summary>The masking keys when we are a websocket client (our frames are masked); null otherwise.</summary>
    protected WsMaskKeys? WsKeys => _wsKeys;

    /// <summary>A buffer of at least <paramref name="size"/> bytes for masked frames, kept for the next one (senders hold the send lock).</summary>
    protected byte[] WsScratch(int size)
    {
        if (_wsScratch is null || _wsScratch.Length < size)
        {
            _wsScratch = GC.AllocateUninitializedArray<byte>(Math.Max(size, 64 * 1024), pinned: true);
        }

        return _wsScratch;
    }

    public override string? PeerEndReason => _ws?.PeerClose;

    // tls: a record read whole but consumed in part leaves plaintext inside the session,
    // which no poll of the socket shows.
    public override bool HasBufferedInput => _ws is not null ? _ws.CanProgressWithoutReading : _tls is not null && TlsPending() > 0;

    int IWsWire.RawReceive(Span<byte> buffer, int timeoutMs)
    {
        if (_tls is null)
        {
            FlushHeldAck();
        }

        return Received(timeoutMs < 0 ? ReceiveCore(buffer) : ReceiveCore(buffer, timeoutMs));
    }

    void IWsWire.SendControl(ReadOnlySpan<byte> frame)
    {
        // Between whole frames only. Close() must not wait for a peer: a sender finishing
        // its frame (usually microseconds: its frame has already reached the peer) is waited
        // for briefly; one blocked on a peer that stopped reading is not, and the close
        // frame is skipped (such a peer would not read it).
        if (_controlMustNotWait)
        {
            if (!SendLock.TryEnter(CloseFrameWaitMs))
            {
                return;
            }
        }
        else
        {
            SendLock.Enter();
        }

        try
        {
            if (!_wireCut)
            {
                SendControlNow(frame);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IpcException)
        {
            // Best effort: a peer that is gone or does not read cannot hear a pong or a close.
        }
        finally
        {
            SendLock.Exit();
        }
    }

    /// <summary>Writes a small control frame without waiting for room (what does not fit is dropped whole). Under the send lock.</summary>
    protected abstract void SendControlNow(ReadOnlySpan<byte> frame);

    protected sealed override void WriteFrames(ReadOnlySpan<NativeFrame> frames)
    {
        if (_ws is null)
        {
            WritePlain(frames);
            return;
        }

        try
        {
            WriteWebSocket(frames);
        }
        catch (IpcException e) when (e.StreamCut)
        {
            _wireCut = true;
            throw;
        }
    }

    /// <summary>The platform's WriteFrames for DP v1 on the bare stream (ConnectionBase.WriteFrames).</summary>
    protected abstract void WritePlain(ReadOnlySpan<NativeFrame> frames);

    /// <summary>As <see cref="WritePlain"/>, each frame one binary websocket message (masked when <see cref="WsKeys"/> is set).</summary>
    protected abstract void WriteWebSocket(ReadOnlySpan<NativeFrame> frames);

    public override nint PollHandle => Socket.SafeHandle.DangerousGetHandle();

    /// <summary>The socket's handle, for a caller that must hold it open across an OS call (Windows' readable handle).</summary>
    public System.Runtime.InteropServices.SafeHandle SocketHandle => Socket.SafeHandle;

    private void FlushHeldAck()
    {
        if (_ackHeld)
        {
            _ackHeld = false;
            FlushDelayedAck();
        }
    }

    private int Received(int n)
    {
        if (n > 0)
        {
            if (_flushAcks)
            {
                _ackHeld = true;
            }
        }
        else if (n == 0 && !_readShut)
        {
            _peerClosed = true;
        }

        return n;
    }

    /// <summary>Blocking receive into <paramref name="buffer"/>; 0 at end of stream. Throws IpcException.</summary>
    protected abstract int ReceiveCore(Span<byte> buffer);

    /// <summary>Receive that waits at most <paramref name="timeoutMs"/> (&gt;= 0); -1 when nothing came in time. Throws IpcException.</summary>
    protected abstract int ReceiveCore(Span<byte> buffer, int timeoutMs);

    /// <summary>
    /// Called by the platform's WriteFrames before it writes: the frame carries the ACK a
    /// receive may have left held back (data read after this point holds one again).
    /// </summary>
    protected void AckRidesOnThisWrite() => _ackHeld = false;

    /// <summary>True where a delayed ACK can be sent at once on request (Linux: TCP_QUICKACK).</summary>
    protected virtual bool FlushesDelayedAcks => false;

    /// <summary>Sends the ACK the kernel is holding back for data already read, now; best effort, never throws.</summary>
    protected virtual void FlushDelayedAck()
    {
    }

    /// <summary>
    /// Per-connection tcp settings against delayed-ACK stalls (a receiver that delays its ACK
    /// stalls a Nagle peer's second small write). Linux: nothing here, the connection
    /// flushes a held-back ACK before it waits (<see cref="FlushDelayedAck"/>). Windows:
    /// SIO_TCP_SET_ACK_FREQUENCY 1. macOS has no per-socket knob: its stack acknowledges
    /// at once while the connection is interactive, and net.inet.tcp.delayed_ack governs
    /// the rest.
    /// </summary>
    protected virtual void ConfigureTcpAcks()
    {
    }

    public override bool ReceiveExactly(Span<byte> buffer, long deadline)
    {
        try
        {
            int got = 0;
            while (got < buffer.Length)
            {
                long left = deadline - System.Diagnostics.Stopwatch.GetTimestamp();
                if (left <= 0)
                {
                    return false;
                }

                // At least 1 ms: 0 would mean no timeout at all.
                int ms = (int)Math.Clamp(left * 1000 / System.Diagnostics.Stopwatch.Frequency, 1, int.MaxValue);
                int n = _ws is not null ? _ws.Receive(buffer.Slice(got), ms) : ReceiveWithin(buffer.Slice(got), ms);
                if (n <= 0)
                {
                    return false;
                }

                got += n;
            }

            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IpcException)
        {
            return false;
        }
        finally
        {
            if (_ws is null)
            {
                try
                {
                    Socket.ReceiveTimeout = 0;
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }
            }
        }
    }

    private int ReceiveWithin(Span<byte> buffer, int ms)
    {
        if (_tls is not null)
        {
            return ReceiveCore(buffer, ms);
        }

        Socket.ReceiveTimeout = ms;
        return Socket.Receive(buffer);
    }

    /// <summary>
    /// True when a whole frame of at most <paramref name="maxPayload"/> bytes is in the
    /// socket already (peeked, nothing taken): a handshake can then read it without waiting.
    /// </summary>
    public override bool HasWholeFrame(uint maxPayload)
    {
        if (_ws is not null || _tls is not null)
        {
            return false; // the socket holds websocket frames or tls records, not DP frames: unknown
        }

        try
        {
            int available = Socket.Available;
            if (available < Framing.FrameHeader.Size)
            {
                return false;
            }

            Span<byte> header = stackalloc byte[Framing.FrameHeader.Size];
            if (Socket.Receive(header, SocketFlags.Peek) != header.Length)
            {
                return false;
            }

            uint length = Framing.FrameHeader.PayloadLength(header);
            return length <= maxPayload && available >= Framing.FrameHeader.Size + (long)length;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The pid of the process at the other end of a unix socket, where the OS tells it (Linux, macOS); null otherwise.</summary>
    public override int? PeerProcessId
        => Socket.AddressFamily == AddressFamily.Unix ? PeerCredentials.PeerPid(Socket.SafeHandle.DangerousGetHandle()) : null;

    /// <summary>
    /// The websocket closing handshake: our close 1000 (unless one went out already, answering
    /// the peer's) before the stream is shut, whichever thread shuts it first; a thread that
    /// shuts it meanwhile waits for that frame to be out, so it never cuts it off.
    /// </summary>
    private void SendCloseFrameFirst()
    {
        if (_ws is null)
        {
            return;
        }

        lock (_closeFrameGate)
        {
            _controlMustNotWait = true;
            _ws.SendClose(WsFrame.NormalClosure, "");
        }
    }

    protected override void ShutdownCore()
    {
        SendCloseFrameFirst();
        TlsCloseNotify();
        _readShut = true;
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already disconnected by the peer: nothing left to wake.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    protected override void ShutdownSendCore()
    {
        SendCloseFrameFirst();
        TlsCloseNotify();
        try
        {
            // FIN after everything queued: the peer reads all we sent, then end-of-file.
            Socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// The wait where the OS cannot say what the peer has acknowledged (Windows, the BSDs):
    /// read and discard until the peer's end-of-file or the deadline, so the close that
    /// follows is a FIN, not a reset that would drop frames still in our send queue. This
    /// waits for a peer that stays connected; PosixSocketConnection does better where it can.
    /// </summary>
    protected override void FlushCore()
    {
        Span<byte> scratch = stackalloc byte[16 * 1024];
        try
        {
            int left;
            while ((left = LingerRemainingMs) > 0)
            {
                if (!Socket.Poll(left * 1000L > int.MaxValue ? int.MaxValue : left * 1000, SelectMode.SelectRead)
                    || Receive(scratch) <= 0)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IpcException or SocketException or ObjectDisposedException)
        {
            // Reset or gone: nothing left to keep.
        }
    }

    protected override void DisposeCore()
    {
        if (!_peerClosed && Socket.ProtocolType == ProtocolType.Tcp)
        {
            // The peer has not closed (everything sent was delivered, the linger ran out, or
            // abort): reset. A plain close
            // could leave our side in FIN-WAIT-2 with a zero receive window, which answers a
            // peer that keeps sending with window probes but never a reset, so a flooding
            // peer would block for a minute instead of learning at once that we are gone.
            try
            {
                Socket.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
            }
        }

        Socket.Dispose();
        _tls?.Dispose();
    }
}
