using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// A connection whose frames travel through two rings in shared memory (docs/protocol.md,
/// "Shared memory"), next to the unix socket they were set up over. The socket carries no
/// frame: it is the liveness signal (a peer that dies closes it, and the end-of-file ends
/// this connection, so a reader never waits on a ring nobody will write) and the pull
/// mode's doorbell. A reader with nothing to read polls the ring for up to the spin time,
/// yielding the CPU between looks, then sleeps on a futex in the ring's control page that
/// the writer wakes only when the reader said it sleeps; the sleep is cut every
/// <see cref="LivenessMs"/> to look at the socket. The reader copies from the ring into
/// the frame reader's buffer on its own thread: the callbacks run there, as over a socket.
/// A client joins the shared memory when it first needs it (the listener passes it when
/// it accepts, which may come after the client's connect returns, on the same thread);
/// handshake frames (the auth token) travel on the socket before that.
/// </summary>
internal sealed unsafe class ShmConnection : ConnectionBase
{
    /// <summary>How often a sleeper looks whether the peer's socket closed (a peer killed mid-write wakes nobody).</summary>
    internal const int LivenessMs = 100;

    private const int PauseLooks = 64; // polls before an unpinned spin starts yielding

    private readonly Socket _socket;
    private readonly int _fd;
    private byte* _mapping;
    private ulong _mappingSize;
    private ShmRing _rx = null!; // set once joined
    private ShmRing _tx = null!;
    private volatile bool _joined;
    private uint _ringBytes; // listener: the size of the rings it offers
    private int* _ownCpu;  // in the header page: the CPU each end ran on when it last sent or waited
    private int* _peerCpu;
    private ulong _needed; // WaitForRoom's, for its spin test (under the send lock)
    private readonly Lock _joinLock = new();
    private readonly long _spinTicks;
    private readonly int _sendTimeoutMs;
    private volatile bool _stopped;  // our own shutdown: a waiting reader returns end of stream
    private volatile bool _peerGone; // the socket ended
    private readonly Lock _mappingLock = new(); // no shutdown touches the control pages once they are unmapped
    private bool _unmapped;

    private ShmConnection(Socket socket, ConnectionOptions options, string description) : base(options.MaxPayload)
    {
        _socket = socket;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        _spinTicks = options.ShmSpinUs <= 0 ? 0 : options.ShmSpinUs * Stopwatch.Frequency / 1_000_000;
        _sendTimeoutMs = options.SendTimeoutMs;
        Description = description;
    }

    private void Attach(byte* mapping, ulong mappingSize, uint ringBytes, bool listener)
    {
        _mapping = mapping;
        _mappingSize = mappingSize;
        var toClient = new ShmRing(mapping + ShmLayout.ControlOffset, mapping + ShmLayout.DataOffset, ringBytes);
        var toListener = new ShmRing(mapping + ShmLayout.ControlOffset + ShmLayout.Page,
            mapping + ShmLayout.DataOffset + ringBytes, ringBytes);
        _rx = listener ? toListener : toClient;
        _tx = listener ? toClient : toListener;
        _ownCpu = (int*)(mapping + (listener ? ShmLayout.ListenerCpuOffset : ShmLayout.ClientCpuOffset));
        _peerCpu = (int*)(mapping + (listener ? ShmLayout.ClientCpuOffset : ShmLayout.ListenerCpuOffset));
        *_ownCpu = -1;
        _joined = true;
    }

    /// <summary>
    /// Client: takes the shared memory the listener passes when it accepts, waiting until
    /// the deadline (a Stopwatch time) in short steps so a shutdown ends the wait. False
    /// when it has not come by then; throws when the connection ended or the offer is bad.
    /// </summary>
    private bool Join(long deadline, bool forSending)
    {
        lock (_joinLock)
        {
            while (!_joined)
            {
                if (_stopped || (forSending && IsClosed))
                {
                    throw new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed");
                }

                int ms = SleepMs(deadline);
                if (ShmNative.WaitReadable(_fd, ms) == 0)
                {
                    if (Stopwatch.GetTimestamp() >= deadline)
                    {
                        return false;
                    }

                    continue;
                }

                lock (_mappingLock)
                {
                    if (_unmapped)
                    {
                        throw new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed");
                    }

                    (nint mapping, ulong size, uint ringBytes) = ShmRendezvous.Receive(_socket, Description, 0);
                    Attach((byte*)mapping, size, ringBytes, listener: false);
                }
            }

            return true;
        }
    }

    public override string Description { get; }

    public override nint PollHandle => _fd;

    protected override bool CanStopReceiving => true;

    /// <summary>A heartbeat's non-waiting send goes only where it fits now: never into a wait for room (or for the listener's offer).</summary>
    protected override bool CanWriteNow
    {
        get
        {
            try
            {
                return _joined && _tx.Free() >= FrameHeader.Size + 64;
            }
            catch (IpcException)
            {
                return true; // an impossible index: the write reports it
            }
        }
    }

    public override int BytesWaiting
    {
        get
        {
            lock (_mappingLock)
            {
                try
                {
                    return _unmapped || !_joined || !_rx.HasData ? 0 : (int)Math.Min(int.MaxValue, _rx.Available());
                }
                catch (IpcException)
                {
                    return 1; // an impossible index: the reader reports it; the peer is not silent
                }
            }
        }
    }

    /// <summary>
    /// Pull mode: after a recv found no whole frame, the host waits on the readable handle
    /// (an epoll over the socket), so the writer is asked for a doorbell byte on the
    /// socket; true when data came in meanwhile or the stream ended.
    /// </summary>
    public override bool HasBufferedInput
    {
        get
        {
            if (!_joined)
            {
                // The listener's offer makes the socket, and so the handle, readable.
                return _stopped;
            }

            _rx.AnnounceReader(ShmLayout.ReaderWantsDoorbell);
            return _rx.HasData || _rx.WriterClosed || _stopped || _peerGone;
        }
    }

    /// <summary>Listener side: an accepted client, offered the shared memory once admitted (<see cref="Admitted"/>, after its token).</summary>
    public static ShmConnection Accepted(Socket client, ConnectionOptions options, string description)
    {
        ShmRendezvous.RequireLinux();
        return new ShmConnection(client, options, description) { _ringBytes = options.ShmRingBytes };
    }

    /// <summary>
    /// Listener side, once the client is admitted: makes the shared memory and passes it
    /// over the socket. A refused client never sees it.
    /// </summary>
    internal override void Admitted()
    {
        ulong size = ShmLayout.TotalSize(_ringBytes);
        void* mapping;
        int fd = ShmNative.Create(size, &mapping);
        if (fd < 0)
        {
            throw new IpcException(IpcStatus.Io, $"making the shared memory for {Description} ({size} bytes) failed: {ShmNative.Describe(fd)}")
            {
                OutOfDescriptors = fd is -24 or -23,
            };
        }

        try
        {
            ShmRendezvous.WriteHeader((byte*)mapping, _ringBytes);
            ShmRendezvous.Send(_socket, fd, Description);
        }
        catch
        {
            ShmNative.Unmap(mapping, size);
            Platform.LibC.Close(fd);
            throw;
        }

        // The client holds its own descriptor now; the mapping keeps ours alive.
        Platform.LibC.Close(fd);
        lock (_mappingLock)
        {
            Attach((byte*)mapping, size, _ringBytes, listener: true);
        }
    }

    /// <summary>Client side: the connection over a connected socket; it joins the shared memory when the listener passes it (on first use).</summary>
    public static ShmConnection Connected(Socket socket, ConnectionOptions options, string description)
    {
        ShmRendezvous.RequireLinux();
        return new ShmConnection(socket, options, description);
    }

    // ---- reading ----

    public override int Receive(Span<byte> buffer)
    {
        if (!_joined && !JoinForReading(long.MaxValue))
        {
            return 0;
        }

        while (true)
        {
            int n = Take(buffer);
            if (n > 0)
            {
                return n;
            }

            if (Ended())
            {
                // What the writer put in before it closed is read first.
                return Take(buffer);
            }

            WaitForData(long.MaxValue);
        }
    }

    public override int Receive(Span<byte> buffer, int timeoutMs)
    {
        if (timeoutMs < 0)
        {
            return Receive(buffer);
        }

        long deadline = Deadline(timeoutMs);
        if (!_joined && !JoinForReading(deadline))
        {
            return _stopped ? 0 : -1;
        }

        while (true)
        {
            int n = Take(buffer);
            if (n > 0)
            {
                return n;
            }

            if (Ended())
            {
                return Take(buffer);
            }

            // Takes the doorbells, and sees the end of the socket, before deciding to wait.
            if (ShmNative.Drain(_fd, 0) != 0)
            {
                _peerGone = true;
                continue;
            }

            long left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return -1;
            }

            _rx.AnnounceReader(ShmLayout.ReaderWantsDoorbell);
            if (_rx.HasData)
            {
                continue;
            }

            int ms = (int)Math.Min(LivenessMs, (left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
            if (ShmNative.Drain(_fd, ms) != 0)
            {
                _peerGone = true;
            }
        }
    }

    /// <summary>
    /// Handshakes (the auth token) travel on the socket, before the shared memory is used:
    /// a client's token must not wait for the listener to accept it.
    /// </summary>
    public override bool ReceiveExactly(Span<byte> buffer, long deadline)
    {
        try
        {
            int got = 0;
            while (got < buffer.Length)
            {
                if (ShmNative.WaitReadable(_fd, SleepMs(deadline)) == 0)
                {
                    if (Stopwatch.GetTimestamp() >= deadline)
                    {
                        return false;
                    }

                    continue;
                }

                int n = _socket.Receive(buffer[got..], SocketFlags.None);
                if (n == 0)
                {
                    return false;
                }

                got += n;
            }

            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>A handshake frame (the client's auth token): on the socket, as <see cref="ReceiveExactly"/> reads it.</summary>
    internal override void SendHandshake(byte kind, ReadOnlySpan<byte> payload)
    {
        Span<byte> frame = stackalloc byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(frame, kind, (uint)payload.Length);
        payload.CopyTo(frame[FrameHeader.Size..]);
        try
        {
            while (!frame.IsEmpty)
            {
                frame = frame[_socket.Send(frame, SocketFlags.None)..];
            }
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, $"sending the auth frame to {Description}");
        }
    }

    // False when the deadline passed, or our own shutdown came, before the offer.
    private bool JoinForReading(long deadline)
    {
        try
        {
            return Join(deadline, forSending: false);
        }
        catch (IpcException) when (_stopped)
        {
            return false;
        }
    }

    // Reads from the ring and wakes a writer that sleeps for the room this frees.
    private int Take(Span<byte> buffer)
    {
        int n = _rx.Read(buffer);
        if (n > 0 && _rx.WriterWantsWake())
        {
            ShmNative.FutexWake(_rx.WriterWait);
        }

        return n;
    }

    private bool Ended() => _stopped || _peerGone || _rx.WriterClosed;

    // Returns when data came, the stream ended, or the deadline (a Stopwatch time) passed.
    private void WaitForData(long deadline)
    {
        if (Spin(static c => c._rx.HasData || c.Ended(), deadline))
        {
            return;
        }

        while (true)
        {
            _rx.AnnounceReader(ShmLayout.ReaderAsleep);
            if (_rx.HasData || Ended())
            {
                _rx.AnnounceReader(ShmLayout.ReaderAwake);
                return;
            }

            int timedOut = ShmNative.FutexWait(_rx.ReaderWait, ShmLayout.ReaderAsleep, SleepMs(deadline));
            _rx.AnnounceReader(ShmLayout.ReaderAwake);
            if (timedOut != 0 && ShmNative.Drain(_fd, 0) != 0)
            {
                _peerGone = true;
            }

            if (_rx.HasData || Ended() || Stopwatch.GetTimestamp() >= deadline)
            {
                return;
            }
        }
    }

    // Polls for up to the spin time; true when done. A thread pinned to the CPU the peer
    // last ran on (both pinned to one, taskset -c 0) yields at every look: a busy poll
    // there only keeps the writer it waits for from running. Otherwise it pauses for a few
    // looks (the peer on another CPU answers within them: the fastest hand-over there is),
    // then yields between looks. Measured: bench/README.md.
    private bool Spin(Func<ShmConnection, bool> done, long deadline)
    {
        if (_spinTicks == 0)
        {
            return done(this);
        }

        long end = Math.Min(deadline, Stopwatch.GetTimestamp() + _spinTicks);
        int pauses = PinnedWithPeer() ? 0 : PauseLooks;
        for (int looks = 0; ; looks++)
        {
            if (done(this))
            {
                return true;
            }

            if (looks < pauses)
            {
                Thread.SpinWait(1);
                continue;
            }

            ShmNative.Yield();
            if (Stopwatch.GetTimestamp() >= end)
            {
                return done(this);
            }
        }
    }

    [ThreadStatic]
    private static int t_allowedCpus; // 0: not asked yet on this thread

    // True when this thread may run on one CPU only and the peer last ran there too.
    // Publishes our CPU for the peer's same question; a wrong hint costs speed only.
    private bool PinnedWithPeer()
    {
        int cpu = ShmNative.CurrentCpu();
        Volatile.Write(ref *_ownCpu, cpu);
        if (t_allowedCpus == 0)
        {
            int allowed = ShmNative.AllowedCpus();
            t_allowedCpus = allowed <= 0 ? int.MaxValue : allowed;
        }

        return t_allowedCpus == 1 && cpu >= 0 && Volatile.Read(ref *_peerCpu) == cpu;
    }

    private static int SleepMs(long deadline)
    {
        long left = deadline - Stopwatch.GetTimestamp();
        if (left <= 0)
        {
            return 0;
        }

        return (int)Math.Clamp((left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency, 1, LivenessMs);
    }

    // ---- writing (under the send lock) ----

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

    // A payload longer than a chunk is published chunk by chunk, so the reader copies one
    // while we copy the next (instead of taking turns over a whole ring); a full ring is
    // waited on until a chunk's room is free, not a byte's.
    private const int Chunk = 64 * 1024;

    private void Put(byte* source, long length, long deadline)
    {
        bool large = length > Chunk;
        while (length > 0)
        {
            if (SendEnded)
            {
                throw new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed");
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

    private void WaitForRoom(long deadline, ulong needed)
    {
        _needed = needed;
        if (!Spin(static c => c._tx.Free() >= c._needed || c.SendEnded, deadline))
        {
            while (true)
            {
                Interlocked.Exchange(ref *_tx.WriterWait, 1);
                if (_tx.Free() >= needed || SendEnded)
                {
                    Interlocked.Exchange(ref *_tx.WriterWait, 0);
                    break;
                }

                int timedOut = ShmNative.FutexWait(_tx.WriterWait, 1, SleepMs(deadline));
                Interlocked.Exchange(ref *_tx.WriterWait, 0);
                if (_tx.Free() >= needed || SendEnded)
                {
                    break;
                }

                if (timedOut != 0 && ShmNative.HungUp(_fd) != 0)
                {
                    throw new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({Description})");
                }

                if (Stopwatch.GetTimestamp() >= deadline)
                {
                    throw new IpcException(IpcStatus.SendTimeout,
                        "send timed out: the peer has not read for the whole send timeout (the shared-memory ring is full)");
                }
            }
        }

        if (SendEnded)
        {
            throw new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed");
        }
    }

    private bool SendEnded => _stopped || IsClosed;

    private void Wake(uint how)
    {
        if (how == ShmLayout.ReaderAwake)
        {
            return;
        }

        if (how == ShmLayout.ReaderAsleep)
        {
            ShmNative.FutexWake(_tx.ReaderWait);
            return;
        }

        ShmNative.Doorbell(_fd);
    }

    // ---- closing ----

    protected override void ShutdownSendCore()
    {
        lock (_mappingLock)
        {
            if (_unmapped)
            {
                return;
            }

            if (_joined)
            {
                _tx.MarkClosed();

                // A sender of ours waiting for room, and the peer's reader.
                ShmNative.FutexWake(_tx.WriterWait);
                ShmNative.FutexWake(_tx.ReaderWait);
            }

            ShutdownSocket(SocketShutdown.Send);
        }
    }

    protected override void ShutdownCore()
    {
        _stopped = true;
        lock (_mappingLock)
        {
            if (_unmapped)
            {
                return;
            }

            if (_joined)
            {
                _tx.MarkClosed();

                // Our own sleepers (the reader on the receive ring, a sender on the send ring) and the peer's reader.
                ShmNative.FutexWake(_rx.ReaderWait);
                ShmNative.FutexWake(_tx.WriterWait);
                ShmNative.FutexWake(_tx.ReaderWait);
            }

            ShutdownSocket(SocketShutdown.Both);
        }
    }

    private void ShutdownSocket(SocketShutdown how)
    {
        try
        {
            _socket.Shutdown(how);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    protected override void DisposeCore()
    {
        lock (_mappingLock)
        {
            if (_unmapped)
            {
                return;
            }

            _unmapped = true;
            if (_joined)
            {
                ShmNative.Unmap(_mapping, _mappingSize);
            }

            _socket.Dispose();
        }
    }
}
