using System;
using System.Diagnostics;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Framing;
using DapperIpc.Transports;

namespace DapperIpc.Manager;

/// <summary>
/// One lifetime of a manager's endpoint, from create_listener or connect to cleanup,
/// and everything that happens in it: accepting, the reader thread, dispatching to the
/// host, closing. Threads that wait (accept, connect, the reader) hold this object, not
/// the manager, so a cleanup followed by a new listener can never hand them the new one.
/// </summary>
internal sealed class IpcSession
{
    // Guards every field below. Two are also read without it, and are volatile for that:
    // _closed (checked before each callback) and _connection (the send path's one read).
    // A plain object, not System.Threading.Lock: waiters use Monitor.Wait on it.
    private readonly object _gate = new();
    private readonly CancellationTokenSource _cancel = new();
    private ListenerBase? _listener;
    private volatile ConnectionBase? _connection;
    private Thread? _reader;
    private bool _accepting; // a thread is inside Listener.Accept; others wait for its result
    private volatile bool _closed;
    private int _clientWaitMs = -1;
    private PullReader? _pull;  // the pull mode's reader, once recv or readable_handle was used
    private bool _pullBusy;     // a thread is inside recv or readable_handle
    private PullQueue? _queue;  // the pull mode with DAPPER_IPC_FLAG_RECONNECT: the reader fills it, recv drains it

    // Set once this session's reader will make no more callbacks (or never had one).
    private readonly ManualResetEventSlim _callbacksDone = new(true);

    private readonly ConnectionStats _stats;
    private readonly Heartbeat _heartbeat;
    private readonly Resume? _resume;

    /// <param name="stats">The manager's counters, which every connection of this session adds to.</param>
    /// <param name="heartbeatMs">config.heartbeat_ms (0 or negative: off).</param>
    /// <param name="listenerSide">True for create_listener: the end that answers the peer's heartbeat announcement.</param>
    /// <param name="reconnect">The config, with DAPPER_IPC_FLAG_RECONNECT set; null otherwise.</param>
    public IpcSession(ConnectionStats stats, int heartbeatMs = 0, bool listenerSide = false, Factory.TransportConfig? reconnect = null)
    {
        _stats = stats;
        _heartbeat = new Heartbeat(Math.Max(0, heartbeatMs), listenerSide, stats);
        _resume = reconnect is null ? null : new Resume(reconnect, listenerSide);
    }

    /// <summary>DAPPER_IPC_FLAG_RECONNECT's send path and resume; null without the flag.</summary>
    internal Resume? Resume => _resume;

    /// <summary>The control channel (heartbeats) of this session.</summary>
    internal Heartbeat Heartbeat => _heartbeat;

    /// <summary>dapper_ipc_stats.state for this session.</summary>
    public Interop.State State
    {
        get
        {
            if (_closed)
            {
                return Interop.State.Idle;
            }

            ConnectionBase? c = _connection;
            if (_resume is { Rejoining: true })
            {
                return Interop.State.Reconnecting;
            }

            return c is null ? (_listener is not null ? Interop.State.Listening : Interop.State.Idle)
                : c.IsClosed ? Interop.State.Closed : Interop.State.Connected;
        }
    }

    public CancellationToken CancelToken => _cancel.Token;

    public bool Closed => _closed;

    /// <summary>The connection, once a client is accepted or connect succeeded; read lock-free by senders.</summary>
    public ConnectionBase? Connection => _connection;

    public ListenerBase? Listener
    {
        get
        {
            lock (_gate)
            {
                return _listener;
            }
        }
    }

    public bool IsReaderThread
    {
        get
        {
            lock (_gate)
            {
                return _reader == Thread.CurrentThread;
            }
        }
    }

    /// <summary>A thread is inside (or entering) the listener's accept; tests act on that instead of guessing.</summary>
    internal bool IsAccepting
    {
        get
        {
            lock (_gate)
            {
                return _accepting;
            }
        }
    }

    public bool HasReader
    {
        get
        {
            lock (_gate)
            {
                return _reader is not null;
            }
        }
    }

    /// <summary>Attaches the bound listener; false (and the caller disposes it) when cleanup ran meanwhile.</summary>
    public bool Attach(ListenerBase listener, int clientWaitMs)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            _listener = listener;
            _clientWaitMs = clientWaitMs;
            return true;
        }
    }

    /// <summary>Attaches the connected client connection; false when cleanup ran meanwhile.</summary>
    public bool Attach(ConnectionBase connection)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            connection.Stats = _stats;
            _stats.CountConnect();
            _connection = connection;
            _resume?.Attach(connection);
            return true;
        }
    }

    /// <summary>A resume's new connection in place of the dropped one (released here); false when cleanup ran meanwhile.</summary>
    internal bool Replace(ConnectionBase connection)
    {
        ConnectionBase? old;
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }

            connection.Stats = _stats;
            _stats.CountConnect();
            old = _connection;
            _connection = connection;
        }

        old?.DisposeNow();
        return true;
    }

    /// <summary>
    /// Returns the connection once a client is accepted. One thread accepts at a time; the
    /// others wait for its result (or their turn). Throws IpcException: Timeout, Cancelled
    /// when cleanup ran, InvalidState without a listener.
    /// </summary>
    public ConnectionBase AcceptOrWait(int timeoutMs)
    {
        long start = Stopwatch.GetTimestamp();
        int Remaining() => timeoutMs < 0
            ? Timeout.Infinite
            : Math.Max(0, timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds);

        ListenerBase listener;
        lock (_gate)
        {
            while (true)
            {
                if (_closed)
                {
                    throw Cancelled("waiting for a client");
                }

                if (_connection is not null)
                {
                    return _connection;
                }

                if (_listener is null)
                {
                    throw new IpcException(IpcStatus.InvalidState, "wait_for_client needs a listener: call create_listener first");
                }

                if (!_accepting)
                {
                    _accepting = true;
                    listener = _listener;
                    break;
                }

                int wait = Remaining();
                if (wait == 0)
                {
                    throw TimedOut(timeoutMs);
                }

                Monitor.Wait(_gate, wait);
            }
        }

        ConnectionBase? accepted = null;
        bool kept = false;
        try
        {
            accepted = listener.Accept(Remaining());
        }
        finally
        {
            lock (_gate)
            {
                _accepting = false;
                if (accepted is not null && !_closed)
                {
                    accepted.Stats = _stats;
                    _stats.CountConnect();
                    _connection = accepted;
                    _resume?.Attach(accepted);
                    kept = true;
                }

                Monitor.PulseAll(_gate);
            }
        }

        if (accepted is null)
        {
            throw TimedOut(timeoutMs);
        }

        if (!kept)
        {
            // Cleanup won the race: nothing was sent on it, so no linger.
            accepted.DisposeNow();
            throw Cancelled("waiting for a client");
        }

        Log.Connected(accepted.Description);
        return accepted;
    }

    /// <summary>
    /// The connection for a send made before the client arrived: waits for it (accepting on
    /// this thread unless another thread is) up to the listener's client wait. Throws
    /// IpcException: NotConnected with no listener or a negative client wait, Timeout when
    /// no client came in time, Cancelled when cleanup ran meanwhile.
    /// </summary>
    public ConnectionBase WaitForSendConnection()
    {
        int wait;
        lock (_gate)
        {
            if (_connection is { } c)
            {
                return c;
            }

            if (_listener is null || _closed)
            {
                throw new IpcException(IpcStatus.NotConnected, "not connected: call create_listener or connect first");
            }

            wait = _clientWaitMs;
        }

        if (wait < 0)
        {
            throw new IpcException(IpcStatus.NotConnected,
                "no client is connected yet: the listener is still waiting for one (wait_for_client first, or set client_wait_ms)");
        }

        try
        {
            return AcceptOrWait(wait);
        }
        catch (IpcException e) when (e.Status == IpcStatus.Timeout)
        {
            throw new IpcException(IpcStatus.Timeout,
                $"no client connected within {wait} ms: the send waited for one (client_wait_ms) and sent nothing; the listener still accepts");
        }
    }

    /// <summary>
    /// Starts the reader thread. It first waits until <paramref name="previous"/> (an
    /// earlier session's reader of the same manager, still inside a callback) has made
    /// its last callback, so one manager never has two readers calling the host at once.
    /// </summary>
    public Thread StartReader(IConnectionHandler? handler, IpcSession? previous)
    {
        lock (_gate)
        {
            if (_closed || (_listener is null && _connection is null))
            {
                throw new IpcException(IpcStatus.InvalidState,
                    "start_reader needs a listener or a connection: call create_listener or connect first");
            }

            if (_pull is not null || _queue is not null)
            {
                throw new IpcException(IpcStatus.InvalidState,
                    "the manager is in pull mode (dapper_ipc_recv was used): frames may be buffered there; use recv, or a new connection for the reader");
            }

            if (_reader is not null)
            {
                throw new IpcException(IpcStatus.InvalidState, "the reader is already running");
            }

            return StartReaderLocked(handler, previous);
        }
    }

    private Thread StartReaderLocked(IConnectionHandler? handler, IpcSession? previous)
    {
        _callbacksDone.Reset();
        // A dedicated thread, not the pool: it blocks in recv and runs the host's
        // callbacks, and the host must know which thread that is.
        _reader = new Thread(() => ReaderMain(handler, previous))
        {
            IsBackground = true,
            Name = "dapper-ipc-reader",
        };
        _reader.Start();
        return _reader;
    }

    /// <summary>
    /// Quick and idempotent, from any thread: wakes every waiter (accept, connect, blocked
    /// sends), removes the listener's files and ends the connection's sending side (the
    /// peer gets every frame already sent, then end-of-file). Never waits.
    /// </summary>
    public void Close()
    {
        ListenerBase? listener;
        ConnectionBase? connection;
        PullQueue? queue;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            listener = _listener;
            connection = _connection;
            queue = _queue;
            Monitor.PulseAll(_gate);
        }

        queue?.Close(); // a reader waiting for room in it, and a recv waiting for frames
        _resume?.End("cleanup ran");
        _cancel.Cancel();
        listener?.Dispose();
        connection?.Close();
        _heartbeat.Signal();
    }

    /// <summary>Closes without the linger: both directions at once, and a linger already under way ends. Quick, any thread.</summary>
    public void Abort()
    {
        Close();
        _connection?.Abort();
    }

    /// <summary>
    /// After <see cref="Close"/>: wakes the reader and waits for it to finish (its
    /// callbacks, and the flush of what was sent: see ConnectionBase.Dispose), then
    /// releases the connection. Returns false without waiting when called on the
    /// reader itself, or when waiting would deadlock (see <see cref="ThreadWaits"/>): the
    /// reader then releases everything itself when its callback returns.
    /// </summary>
    public bool Stop()
    {
        Thread? reader;
        lock (_gate)
        {
            reader = _reader;
        }

        if (reader is not null)
        {
            if (reader == Thread.CurrentThread || !ThreadWaits.Enter(reader))
            {
                return false;
            }

            try
            {
                // Cleanup waits for callbacks, never for the peer: the reader is woken from
                // its receive at once, and the linger is only the flush of what we sent.
                // Where the transport cannot wake it without risking that, the reader gets
                // the linger to see the peer's end-of-file, then the connection is aborted.
                if (_connection?.StopReceiving() == true)
                {
                    reader.Join();
                }
                else if (!reader.Join(_connection?.LingerRemainingMs ?? 0))
                {
                    _connection?.Abort();
                    reader.Join();
                }
            }
            finally
            {
                ThreadWaits.Exit();
            }
        }

        WaitForPuller();
        _heartbeat.Stop();
        _resume?.Stop();
        _connection?.Dispose();
        PullReader? pull;
        PullQueue? queue;
        lock (_gate)
        {
            pull = _pull;
            _pull = null;
            queue = _queue;
        }

        pull?.Dispose();
        queue?.Dispose();
        return true;
    }

    /// <summary>
    /// Pull mode: whole frames on the calling thread (see <see cref="PullReader.Recv"/>). A
    /// listener without a client accepts first, within the same timeout. Throws
    /// IpcException: InvalidState while the reader runs or another thread is in recv,
    /// Cancelled when cleanup ran before or during the call.
    /// </summary>
    public IpcStatus Recv(Span<byte> destination, Span<ReceivedFrame> frames, out int count, int timeoutMs, IConnectionHandler? host = null)
    {
        long start = Stopwatch.GetTimestamp();
        if (_resume is not null)
        {
            return RecvQueued(destination, frames, out count, timeoutMs, start, host);
        }

        return RecvEntered(EnterPull(), null, destination, frames, out count, timeoutMs, start);

        PullReader EnterPull()
        {
            while (true)
            {
                ConnectionBase? connection;
                lock (_gate)
                {
                    if (_closed)
                    {
                        throw Cancelled("receiving");
                    }

                    if (_reader is not null)
                    {
                        throw new IpcException(IpcStatus.InvalidState,
                            "recv cannot be used while the reader thread runs: frames go to the message callback");
                    }

                    if (_pullBusy)
                    {
                        throw new IpcException(IpcStatus.InvalidState, "another thread is in recv or readable_handle on this manager");
                    }

                    connection = _connection;
                    if (connection is not null)
                    {
                        _pullBusy = true;
                        return _pull ??= new PullReader(connection, _stats, _heartbeat);
                    }
                }

                // A listener without a client: accept (or wait for the thread accepting).
                int wait = timeoutMs < 0 ? -1
                    : (int)Math.Max(0, timeoutMs - (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                AcceptOrWait(wait);
            }
        }
    }

    // DAPPER_IPC_FLAG_RECONNECT's pull mode: the reader thread (started by the first call) fills the queue.
    private IpcStatus RecvQueued(Span<byte> destination, Span<ReceivedFrame> frames, out int count, int timeoutMs, long start, IConnectionHandler? host)
    {
        PullQueue queue;
        lock (_gate)
        {
            if (_closed)
            {
                throw Cancelled("receiving");
            }

            if (_reader == Thread.CurrentThread)
            {
                // The callbacks run on the thread that fills the queue: a recv there would wait for itself.
                throw new IpcException(IpcStatus.InvalidState,
                    "recv inside a callback: with DAPPER_IPC_FLAG_RECONNECT the callbacks run on the thread that fills recv's queue");
            }

            if (_pullBusy)
            {
                throw new IpcException(IpcStatus.InvalidState, "another thread is in recv or readable_handle on this manager");
            }

            queue = EnterQueueLocked(host);
            _pullBusy = true;
        }

        return RecvEntered(null, queue, destination, frames, out count, timeoutMs, start);
    }

    /// <summary>
    /// The rest of a recv once this thread holds the pull turn, from the reader or (with
    /// DAPPER_IPC_FLAG_RECONNECT) the queue: a cleanup that ran meanwhile is Cancelled whatever
    /// the receive said, and the turn is given back on every path.
    /// </summary>
    private IpcStatus RecvEntered(PullReader? pull, PullQueue? queue, Span<byte> destination, Span<ReceivedFrame> frames,
        out int count, int timeoutMs, long start)
    {
        try
        {
            IpcStatus status = pull is not null
                ? pull.Recv(destination, frames, out count, timeoutMs, start)
                : queue!.Recv(destination, frames, out count, timeoutMs, start);
            if (_closed)
            {
                throw Cancelled("receiving");
            }

            return status;
        }
        catch (IpcException) when (_closed)
        {
            throw Cancelled("receiving");
        }
        finally
        {
            ExitPull();
        }
    }

    // Under _gate: the queue, its reader started on first use.
    private PullQueue EnterQueueLocked(IConnectionHandler? host)
    {
        if (_queue is { } queue)
        {
            return queue;
        }

        if (_reader is not null)
        {
            throw new IpcException(IpcStatus.InvalidState,
                "recv cannot be used while the reader thread runs: frames go to the message callback");
        }

        if (_listener is null && _connection is null)
        {
            throw new IpcException(IpcStatus.InvalidState, "recv needs a listener or a connection: call create_listener or connect first");
        }

        _queue = new PullQueue(host, _heartbeat);
        StartReaderLocked(_queue, null);
        return _queue;
    }

    /// <summary>The pull mode's readable handle (an epoll fd on Linux, a kqueue fd on macOS, an event HANDLE on Windows). NotConnected before a client arrived.</summary>
    public nint ReadableHandle(IConnectionHandler? host = null)
    {
        PullQueue? queue = null;
        lock (_gate)
        {
            if (_closed)
            {
                throw Cancelled("making the readable handle");
            }

            if (_reader is not null && _queue is null)
            {
                throw new IpcException(IpcStatus.InvalidState, "readable_handle is for the pull mode: the reader thread runs on this manager");
            }

            if (_pullBusy)
            {
                throw new IpcException(IpcStatus.InvalidState, "another thread is in recv on this manager");
            }

            if (_connection is null)
            {
                throw new IpcException(IpcStatus.NotConnected, _listener is not null
                    ? "no client is connected yet: wait_for_client first (the handle watches the connection)"
                    : "not connected: call create_listener or connect first");
            }

            if (_resume is null)
            {
                _pull ??= new PullReader(_connection, _stats, _heartbeat);
                return _pull.ReadableHandle();
            }

            queue = EnterQueueLocked(host);
        }

        // A flag fd of the library's own: the same number across reconnects.
        return queue.ReadableHandle() ?? throw new IpcException(IpcStatus.Unsupported,
            "readable_handle with DAPPER_IPC_FLAG_RECONNECT is implemented on Linux and macOS; use recv with a timeout");
    }

    private void ExitPull()
    {
        lock (_gate)
        {
            _pullBusy = false;
            if (_closed)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Stop, pull mode: wakes a thread inside recv and waits for it (where the transport cannot wake it, for the linger; then the connection is aborted, which does).</summary>
    private void WaitForPuller()
    {
        lock (_gate)
        {
            if (_queue is not null)
            {
                // Close woke it (the queue's own wait); the reader may have released the
                // connection already, so it is not touched here.
                while (_pullBusy)
                {
                    Monitor.Wait(_gate);
                }

                return;
            }

            if (_pullBusy)
            {
                _connection?.StopReceiving();
            }

            while (_pullBusy)
            {
                int left = _connection?.LingerRemainingMs ?? 0;
                if (left > 0)
                {
                    Monitor.Wait(_gate, left);
                }
                else
                {
                    _connection?.Abort();
                    Monitor.Wait(_gate);
                }
            }
        }
    }

    private static IpcException Cancelled(string what) => new(IpcStatus.Cancelled, $"cleanup ran while {what}");

    private static IpcException TimedOut(int timeoutMs) => new(IpcStatus.Timeout, $"no client connected within {timeoutMs} ms");

    private void ReaderMain(IConnectionHandler? handler, IpcSession? previous)
    {
        try
        {
            previous?.WaitForLastCallback();
            Read(handler);
        }
        finally
        {
            if (handler is PullQueue queue)
            {
                // However the reader ended, recv must not wait for it any longer.
                queue.End(new IpcException(IpcStatus.Closed, "the connection ended"));
                if (_closed)
                {
                    queue.Dispose();
                }
            }

            _callbacksDone.Set();
            // Whoever stops this session may not have waited (the reader's own cleanup, a
            // cycle): the reader releases what it used. Idempotent with Stop's release.
            _connection?.Dispose();
        }
    }

    private void WaitForLastCallback()
    {
        Thread? reader;
        lock (_gate)
        {
            reader = _reader;
        }

        // The previous reader may be this thread's creator, still in the callback that
        // called start_reader: that is what we wait for. A cycle (it waits for us) means
        // it is stopping this session, which is closed then, so nothing runs.
        if (reader is null || !ThreadWaits.Enter(reader))
        {
            return;
        }

        try
        {
            _callbacksDone.Wait();
        }
        finally
        {
            ThreadWaits.Exit();
        }
    }

    private void Read(IConnectionHandler? handler)
    {
        ConnectionBase connection;
        try
        {
            connection = AcceptOrWait(Timeout.Infinite);
        }
        catch (IpcException e)
        {
            // Cancelled is the host's own cleanup; anything else it must hear about.
            Notify(handler, ConnectionEvent.Disconnected, e.Status, e.Message);
            return;
        }

        Notify(handler, ConnectionEvent.Connected, IpcStatus.Ok, $"connected: {connection.Description}");

        IpcStatus status;
        string reason;
        while (true)
        {
            (status, reason) = ReadUntilEnd(connection, handler);

            // However the reading ended, the connection is finished: the peer sees end-of-file
            // (after a protocol error the stream cannot be resynchronised) and sends fail.
            connection.Close();
            _heartbeat.EndConnection();
            string? dead = _heartbeat.DeadReason;
            if (dead is not null)
            {
                status = IpcStatus.Timeout;
                reason = dead;
            }

            if (_resume is not { Resumable: true } resume || _closed)
            {
                break;
            }

            if (resume.Refusal is { } refused)
            {
                status = IpcStatus.Closed;
                reason = $"resume refused by the peer: {refused}";
                break;
            }

            // DAPPER_IPC_FLAG_RECONNECT, agreed by both ends: get the connection back.
            Log.Rejoining(connection.Description, reason);
            Notify(handler, ConnectionEvent.Reconnecting, status, reason);
            try
            {
                ConnectionBase? next = resume.RejoinAfterDrop(this, connection);
                if (next is null)
                {
                    return; // cleanup ran: not reported
                }

                connection = next;
                _heartbeat.Resumed(next);
            }
            catch (IpcException e)
            {
                // A frozen peer's resume fails too; the report keeps what came first.
                status = dead is null ? e.Status : IpcStatus.Timeout;
                reason = dead is null ? e.Message : $"{dead}; {e.Message}";
                _connection?.Close();
                break;
            }

            Notify(handler, ConnectionEvent.Connected, IpcStatus.Ok, $"resumed: {connection.Description}");
        }

        _resume?.End(reason);

        if (!_closed)
        {
            Log.ConnectionEnded(connection.Description, status, reason);
            Notify(handler, ConnectionEvent.Disconnected, status, reason);
        }
    }

    private (IpcStatus, string) ReadUntilEnd(ConnectionBase connection, IConnectionHandler? handler)
    {
        using var reader = new FrameReader(connection.MaxPayload);
        try
        {
            reader.Run(connection, new Dispatcher(this, handler, connection));
            return (IpcStatus.Ok, connection.PeerEndReason ?? "the peer closed the connection");
        }
        catch (IpcException e)
        {
            return (e.Status, e.Message);
        }
        catch (Exception e)
        {
            return (IpcStatus.Internal, $"internal error in the reader: {e.Message}");
        }
    }

    private void Notify(IConnectionHandler? handler, ConnectionEvent e, IpcStatus status, string reason)
    {
        if (handler is null || _closed)
        {
            return;
        }

        try
        {
            handler.OnConnectionEvent(e, status, reason);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(reason, ex);
        }
    }

    /// <summary>
    /// Hands the frames to the host's handler, counting them, and stops as soon as cleanup
    /// ran. Control frames (kind 3) go to the session's control channel instead: the one
    /// branch a frame pays for heartbeats.
    /// </summary>
    private sealed class Dispatcher(IpcSession session, IConnectionHandler? handler, ConnectionBase connection) : IFrameHandler
    {
        private readonly ConnectionStats _stats = session._stats;
        private readonly bool _oneFramePerCall = handler is not null && handler.OneFramePerCall;

        public bool OnFrames(ReadOnlySpan<NativeFrame> frames)
        {
            if (_oneFramePerCall)
            {
                // One call per frame (so cleanup stops delivery between any two).
                for (int i = 0; i < frames.Length; i++)
                {
                    if (frames[i].Kind == FrameKind.Control)
                    {
                        OnControl(frames[i]);
                    }
                    else if (!Deliver(frames.Slice(i, 1), FrameHeader.Size + (long)frames[i].Length))
                    {
                        return false;
                    }
                }

                return true;
            }

            long bytes = 0;
            for (int i = 0; i < frames.Length; i++)
            {
                if (frames[i].Kind == FrameKind.Control)
                {
                    return OnBatchWithControl(frames);
                }

                bytes += FrameHeader.Size + (long)frames[i].Length;
            }

            return Deliver(frames, bytes);
        }

        // Rare (heartbeats on): the host's runs between control frames, each run in one call.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private bool OnBatchWithControl(ReadOnlySpan<NativeFrame> frames)
        {
            long bytes = 0;
            int start = 0;
            for (int i = 0; i < frames.Length; i++)
            {
                if (frames[i].Kind == FrameKind.Control)
                {
                    if (i > start && !Deliver(frames[start..i], bytes))
                    {
                        return false;
                    }

                    OnControl(frames[i]);
                    start = i + 1;
                    bytes = 0;
                    continue;
                }

                bytes += FrameHeader.Size + (long)frames[i].Length;
            }

            return start == frames.Length || Deliver(frames[start..], bytes);
        }

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private void OnControl(NativeFrame frame)
        {
            ReadOnlySpan<byte> payload = frame.PayloadSpan;
            session._heartbeat.OnControl(connection, payload);
            if (session._resume is { } resume && !payload.IsEmpty && Resume.Handles(payload[0]))
            {
                resume.OnControl(connection, payload);
            }
        }

        /// <summary>False once cleanup ran (during the call too).</summary>
        private bool Deliver(ReadOnlySpan<NativeFrame> frames, long bytes)
        {
            if (session._closed)
            {
                return false;
            }

            ConnectionStats stats = _stats;
            stats.FramesReceived += frames.Length;
            stats.BytesReceived += bytes;
            long stamp = connection.ReadStamp;
            stats.LastReceiveStamp = stamp != 0 ? stamp : StampClock.Stamp();
            try
            {
                handler?.OnMessages(frames);
            }
            catch (Exception e)
            {
                // The handler's bug must not end the connection.
                Log.HandlerFailed(connection.Description, e);
            }

            session._resume?.Delivered(frames.Length, connection);
            return !session._closed;
        }
    }
}
