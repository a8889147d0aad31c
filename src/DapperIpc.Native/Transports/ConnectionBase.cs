using System;
using System.Threading;
using DapperIpc.Framing;

namespace DapperIpc.Transports;

/// <summary>
/// One established byte stream to the peer (docs/architecture.md's ConnectionBase).
/// Reading is done by one thread (the manager's reader); sending may come from any
/// number of threads at once and is serialised here so that frames never interleave.
/// <see cref="Close"/> is quick and never blocks on the peer: it ends the sending side
/// (blocked senders wake; the peer reads everything already sent, then end-of-file).
/// <see cref="StopReceiving"/> also wakes a blocked reader and keeps the linger;
/// <see cref="Abort"/> wakes it and ends the linger. <see cref="Dispose"/> waits until
/// everything sent has reached the peer (at most <see cref="LingerMs"/>, and never for
/// the peer to read or close), then releases the handle once nobody can be inside a
/// system call on it.
/// </summary>
public abstract class ConnectionBase : IFrameSource, IDisposable
{
    private readonly Lock _sendLock = new();
    private volatile bool _closed;
    private int _disposeStarted;
    private long _lingerDeadline;

    /// <summary>
    /// How long closing may wait for what we sent to reach the peer. A TCP socket closed
    /// with unread incoming data is reset, and a reset throws away what the kernel had not
    /// yet delivered: frames that send had already reported as sent. So close waits, while
    /// discarding input, until the peer's kernel has acknowledged everything (in the common
    /// case it already has, and nothing is waited for); the bound keeps a peer that stopped
    /// reading from holding cleanup.
    /// </summary>
    public const int LingerMs = 2000;

    protected ConnectionBase(uint maxPayload) => MaxPayload = maxPayload;

    /// <summary>The send lock, for a transport that writes something of its own between frames (a websocket's pong or close).</summary>
    protected Lock SendLock => _sendLock;

    /// <summary>True when bytes already read from the OS wait inside the transport and a receive would take them without the OS handle being readable (a websocket's read-ahead).</summary>
    public virtual bool HasBufferedInput => false;

    /// <summary>How the peer ended the connection when it said so (a websocket close code and reason); null otherwise.</summary>
    public virtual string? PeerEndReason => null;

    public uint MaxPayload { get; }

    /// <summary>A short description of the endpoint for messages ("unix:/tmp/x/ipc.sock").</summary>
    public abstract string Description { get; }

    public bool IsClosed => _closed;

    /// <summary>Receives at most <c>buffer.Length</c> bytes; 0 means the peer closed. Throws IpcException.</summary>
    public abstract int Receive(Span<byte> buffer);

    /// <summary>
    /// Receives what is there, waiting at most <paramref name="timeoutMs"/> (0: not at all;
    /// negative: as <see cref="Receive"/>). Returns -1 when nothing came in time, 0 at end
    /// of stream. For the pull mode, on the caller's thread. Throws IpcException;
    /// Unsupported for a timeout on transports that cannot wait with one (pipes).
    /// </summary>
    public virtual int Receive(Span<byte> buffer, int timeoutMs)
    {
        if (timeoutMs < 0)
        {
            return Receive(buffer);
        }

        throw new IpcException(IpcStatus.Unsupported,
            $"recv with a timeout is not supported on this transport ({Description}); pass a negative timeout, or use the reader");
    }

    /// <summary>The OS handle a poller can watch for incoming data (a socket's fd), or -1 where there is none.</summary>
    public virtual nint PollHandle => -1;

    /// <summary>A Stopwatch timestamp <paramref name="timeoutMs"/> from now, for <see cref="ReceiveExactly"/>.</summary>
    public static long Deadline(int timeoutMs)
        => System.Diagnostics.Stopwatch.GetTimestamp() + (long)timeoutMs * System.Diagnostics.Stopwatch.Frequency / 1000;

    /// <summary>
    /// Fills <paramref name="buffer"/> or returns false (end of stream, an error, or the
    /// <paramref name="deadline"/>, a Stopwatch timestamp, passed: one deadline for all of it,
    /// so a client that sends a byte at a time cannot stretch it). For handshakes (the token,
    /// a session's hello), before the reader starts; reads nothing past the buffer.
    /// Unsupported where a read cannot wait with a deadline.
    /// </summary>
    public virtual bool ReceiveExactly(Span<byte> buffer, long deadline)
        => throw new IpcException(IpcStatus.Unsupported, $"a handshake read with a deadline is not supported on {Description}");

    /// <summary>True when a whole frame of at most <paramref name="maxPayload"/> bytes can be read without waiting (nothing taken); false when unknown.</summary>
    public virtual bool HasWholeFrame(uint maxPayload) => false;

    /// <summary>The pid of the process at the other end, where the OS tells it; null otherwise.</summary>
    public virtual int? PeerProcessId => null;

    /// <summary>
    /// Sends one DP v1 frame, header and payload gathered in one write, and returns once
    /// all of it is with the kernel. Throws IpcException: Closed once the connection is
    /// closed or the peer left, FrameTooLarge above the maximum. The kind is the caller's
    /// to check (Manager/SendChecks.cs).
    /// </summary>
    public unsafe void SendFrame(byte kind, ReadOnlySpan<byte> payload)
    {
        if ((uint)payload.Length > MaxPayload)
        {
            throw new IpcException(IpcStatus.FrameTooLarge,
                $"frame too large: {payload.Length} bytes, the maximum is {MaxPayload}");
        }

        fixed (byte* p = payload)
        {
            var frame = new NativeFrame(kind, p, (nuint)payload.Length);
            Write(new ReadOnlySpan<NativeFrame>(in frame), FrameHeader.Size + payload.Length, counted: true);
        }
    }

    /// <summary>
    /// Sends frames in order, holding the send lock for the whole batch so no other
    /// sender's frame lands between them, in as few writes as the transport allows (a
    /// socket: one sendmsg per 256 frames). Every length is checked before anything is
    /// sent, so a frame above the maximum fails the batch with nothing sent; kinds and
    /// payload pointers are the caller's to check (Manager/SendChecks.cs). On failure the
    /// IpcException's FramesSent is the number of frames fully handed to the kernel: a
    /// send timeout between two frames leaves the connection usable and the caller knows
    /// where to resume; a frame cut in two closes it, as for one frame.
    /// </summary>
    public void SendFrames(ReadOnlySpan<NativeFrame> frames)
    {
        long bytes = 0;
        for (int i = 0; i < frames.Length; i++)
        {
            if (frames[i].Length > MaxPayload)
            {
                throw new IpcException(IpcStatus.FrameTooLarge,
                    $"frame {i} too large: {frames[i].Length} bytes, the maximum is {MaxPayload}; nothing was sent");
            }

            bytes += FrameHeader.Size + (long)frames[i].Length;
        }

        Write(frames, bytes, counted: true);
    }

    /// <summary>
    /// Sends one control frame (kind 3: heartbeats; docs/protocol.md), not counted in the
    /// host's statistics. With <paramref name="wait"/> false it never blocks: false when
    /// another sender holds the stream or the kernel has no room now (the caller skips
    /// this one), so a heartbeat cannot stall the reader or its own thread behind a peer
    /// that stopped reading. Throws IpcException as a send does.
    /// </summary>
    internal unsafe bool SendControl(ReadOnlySpan<byte> payload, bool wait)
    {
        fixed (byte* p = payload)
        {
            var frame = new NativeFrame(FrameKind.Control, p, (nuint)payload.Length);
            var frames = new ReadOnlySpan<NativeFrame>(in frame);
            if (wait)
            {
                Write(frames, 0, counted: false);
                return true;
            }

            if (!_sendLock.TryEnter())
            {
                return false;
            }

            try
            {
                if (_closed || !CanWriteNow)
                {
                    return false;
                }

                WriteLocked(frames, 0, counted: false);
                return true;
            }
            finally
            {
                _sendLock.Exit();
            }
        }
    }

    /// <summary>Called by a listener once it admitted this client (its token checked): a transport that sets up more then does it here (shm offers its shared memory).</summary>
    internal virtual void Admitted()
    {
    }

    /// <summary>Sends a handshake frame (the client's auth token), before any other: as a frame, unless the transport carries handshakes apart (shm: on its socket).</summary>
    internal virtual void SendHandshake(byte kind, ReadOnlySpan<byte> payload) => SendFrame(kind, payload);

    /// <summary>Resends frames already counted once (a resume's replay): in order, blocking, not counted again.</summary>
    internal void SendReplay(ReadOnlySpan<NativeFrame> frames) => Write(frames, 0, counted: false);

    /// <summary>
    /// <see cref="StampClock.Stamp"/> of the last blocking read that brought data, for a
    /// transport that takes it in the same native call as the read (POSIX sockets); 0
    /// where the transport does not, and the delivery takes its own. Written by the one
    /// reading thread.
    /// </summary>
    internal long ReadStamp;

    /// <summary>The statistics this connection adds to (the manager's, set before the connection is used).</summary>
    internal ConnectionStats Stats { get; set; } = new();

    /// <summary>True when a small write would not block now (best effort; true where unknown).</summary>
    protected virtual bool CanWriteNow => true;

    /// <summary>Bytes the peer sent that wait unread in the OS (0 where unknown): a peer whose data waits is not silent.</summary>
    public virtual int BytesWaiting => 0;

    /// <summary>
    /// Set by a transport whose WriteFrames adds exactly the time it waited for room
    /// (<see cref="AddBlocked"/>) and stores the Stopwatch time it started writing in
    /// <see cref="WriteStarted"/> (a clock it reads anyway, for the send deadline);
    /// otherwise the base class times each write, and a write slower than 1 ms counts whole.
    /// </summary>
    protected bool MeasuresBlockedTime { get; init; }

    /// <summary>The Stopwatch time the last WriteFrames began (see <see cref="MeasuresBlockedTime"/>); under the send lock.</summary>
    protected long WriteStarted { get; set; }

    /// <summary>Adds Stopwatch ticks a write spent waiting for the peer to read; under the send lock.</summary>
    protected void AddBlocked(long ticks) => Stats.SendBlockedTicks += ticks;

    private void Write(ReadOnlySpan<NativeFrame> frames, long bytes, bool counted)
    {
        lock (_sendLock)
        {
            WriteLocked(frames, bytes, counted);
        }
    }

    private void WriteLocked(ReadOnlySpan<NativeFrame> frames, long bytes, bool counted)
    {
        if (_closed)
        {
            throw new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed");
        }

        if (!MeasuresBlockedTime)
        {
            WriteTimed(frames, bytes, counted);
            return;
        }

        try
        {
            WriteFrames(frames);
        }
        catch (IpcException e)
        {
            Failed(e, frames, counted, WriteStarted);
            throw;
        }

        if (counted)
        {
            Count(frames, bytes, WriteStarted);
        }
    }

    // Transports that cannot tell when a write waited for room: a write slower than 1 ms
    // counts whole as blocked.
    private void WriteTimed(ReadOnlySpan<NativeFrame> frames, long bytes, bool counted)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            WriteFrames(frames);
        }
        catch (IpcException e)
        {
            Failed(e, frames, counted, start);
            throw;
        }
        finally
        {
            long took = System.Diagnostics.Stopwatch.GetTimestamp() - start;
            if (took > System.Diagnostics.Stopwatch.Frequency / 1000)
            {
                AddBlocked(took);
            }
        }

        if (counted)
        {
            Count(frames, bytes, start);
        }
    }

    private void Failed(IpcException e, ReadOnlySpan<NativeFrame> frames, bool counted, long stamp)
    {
        if (counted && e.FramesSent > 0)
        {
            long bytes = 0;
            foreach (NativeFrame f in frames[..e.FramesSent])
            {
                bytes += FrameHeader.Size + (long)f.Length;
            }

            Count(frames[..e.FramesSent], bytes, stamp);
        }

        if (e.StreamCut)
        {
            // Part of a frame is out: no later frame could be parsed by the peer.
            Close();
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void Count(ReadOnlySpan<NativeFrame> frames, long bytes, long stamp)
    {
        ConnectionStats s = Stats;
        s.FramesSent += frames.Length;
        s.BytesSent += bytes;
        s.LastSendStamp = stamp;
    }

    /// <summary>
    /// The transport's one write primitive: writes the frames (checked: valid kinds, lengths
    /// within the maximum) completely and in order, each as its DP v1 header then payload,
    /// in as few writes as the transport allows; called under the send lock. Throws
    /// IpcException with FramesSent (the frames fully written) and StreamCut (a frame went
    /// out in part).
    /// </summary>
    protected abstract void WriteFrames(ReadOnlySpan<NativeFrame> frames);

    /// <summary>Shuts the stream down both ways: the peer sees end-of-file, a blocked receive returns 0, blocked sends fail. Never blocks.</summary>
    protected abstract void ShutdownCore();

    /// <summary>Ends the sending side only: the peer reads what was sent, then end-of-file; blocked sends fail. Never blocks. Transports without a half-close shut down both ways.</summary>
    protected virtual void ShutdownSendCore() => ShutdownCore();

    /// <summary>
    /// Waits until everything sent has reached the peer, discarding input meanwhile, or
    /// until the linger is over (<see cref="LingerRemainingMs"/>, which <see cref="Abort"/>
    /// ends from another thread); never for the peer to read or close. Called once, after
    /// <see cref="Close"/>, before the handle is released. Transports whose close loses
    /// nothing have nothing to wait for.
    /// </summary>
    protected virtual void FlushCore()
    {
    }

    /// <summary>
    /// True where shutting the receiving side cannot cost what was sent, so
    /// <see cref="StopReceiving"/> may wake a reader without ending the linger. Windows
    /// resets a tcp connection that receives data after SD_RECEIVE, so there it is false.
    /// </summary>
    protected virtual bool CanStopReceiving => false;

    /// <summary>Milliseconds left of the linger that <see cref="Close"/> started (0 when not closed or over).</summary>
    public int LingerRemainingMs
    {
        get
        {
            long deadline = Interlocked.Read(ref _lingerDeadline);
            if (!_closed || deadline == 0)
            {
                return 0;
            }

            long left = deadline - System.Diagnostics.Stopwatch.GetTimestamp();
            return left <= 0 ? 0 : (int)Math.Min(int.MaxValue, left * 1000 / System.Diagnostics.Stopwatch.Frequency);
        }
    }

    /// <summary>Releases the handle; called once, when no thread can be inside a call on it.</summary>
    protected abstract void DisposeCore();

    /// <summary>
    /// Ends the sending side: later sends fail with Closed, blocked ones wake, and the peer
    /// receives every frame already sent, then end-of-file. Starts the linger. Quick,
    /// idempotent, callable from any thread including the reader.
    /// </summary>
    public void Close()
    {
        if (_closed)
        {
            return;
        }

        Interlocked.Exchange(ref _lingerDeadline,
            System.Diagnostics.Stopwatch.GetTimestamp() + LingerMs * System.Diagnostics.Stopwatch.Frequency / 1000);
        _closed = true;
        ShutdownSendCore();
    }

    /// <summary>
    /// Closes and wakes a blocked receive (which returns 0) without ending the linger, so
    /// cleanup need not wait for the peer to send or close. False, doing only
    /// <see cref="Close"/>, where the transport cannot (<see cref="CanStopReceiving"/>):
    /// the caller then waits for the reader at most the linger and aborts. Quick, any thread.
    /// </summary>
    public bool StopReceiving()
    {
        Close();
        if (!CanStopReceiving)
        {
            return false;
        }

        ShutdownCore();
        return true;
    }

    /// <summary>Closes both ways at once and ends the linger: also wakes a blocked receive (which returns 0) and a draining Dispose. Quick, idempotent, any thread.</summary>
    public void Abort()
    {
        Close();
        Interlocked.Exchange(ref _lingerDeadline, System.Diagnostics.Stopwatch.GetTimestamp());
        ShutdownCore();
    }

    /// <summary>
    /// Closes, waits for what was sent to reach the peer while discarding what it still
    /// sends (at most until the linger ends; see <see cref="FlushCore"/>), then waits for
    /// any sender still inside a system call (Close has already woken it) before releasing
    /// the handle, so a file descriptor is never closed under a thread that is using it.
    /// Must not be called while another thread may be receiving on this connection.
    /// </summary>
    public void Dispose()
    {
        Release(linger: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the handle without waiting: for a connection nothing was sent on (a refused or unwanted client).</summary>
    public void DisposeNow() => Release(linger: false);

    private void Release(bool linger)
    {
        Close();
        if (Interlocked.Exchange(ref _disposeStarted, 1) != 0)
        {
            return;
        }

        if (linger)
        {
            FlushCore();
        }

        ShutdownCore();
        lock (_sendLock)
        {
            DisposeCore();
        }
    }
}
