using System;
using System.Collections.Generic;
using System.Threading;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Transports;

namespace DapperIpc.Manager;

/// <summary>
/// Owns one connection's lifecycle (docs/architecture.md's IPCManager): a listener or a
/// client connection, one dedicated reader thread that calls the handler for each
/// frame with no hand-off in between, sends from any thread, and cleanup.
/// </summary>
public sealed class IPCManager : IDisposable
{
    // Guards the fields below; _session is written only under it. Send, recv and
    // readable_handle read _session without it (Volatile.Read), so the hot path takes no
    // lock: they use the session they saw, which reports Closed if cleanup ended it
    // meanwhile. Sessions own their own state behind their own lock.
    private readonly object _gate = new();
    private IpcSession? _session;
    private IConnectionHandler? _handler;
    // Sessions that cleanup closed but could not wait for (it ran on their reader, inside
    // a callback, or waiting would have deadlocked): the next cleanup waits for them.
    private readonly List<IpcSession> _stopping = [];
    // The session whose reader started last: a new reader waits for its last callback.
    private IpcSession? _lastReaderSession;
    // dapper_ipc_get_stats: every session of this manager adds to the same counters.
    private readonly ConnectionStats _stats = new();

    public IPCManager() => StampClock.Start();

    /// <summary>Sets the handler the next reader will call. Not once a reader runs.</summary>
    public void SetHandler(IConnectionHandler? handler)
    {
        lock (_gate)
        {
            if (_session is { HasReader: true })
            {
                throw new IpcException(IpcStatus.InvalidState,
                    "callbacks cannot change while the reader runs; set them before start_reader, or after cleanup");
            }

            _handler = handler;
        }
    }

    /// <summary>Creates a bound listener and returns the launcher arguments.</summary>
    public IReadOnlyList<string> CreateListener(TransportConfig config)
    {
        IpcSession s = Reserve(config.HeartbeatMs, listenerSide: true, config.Reconnect ? config : null);
        ListenerBase listener;
        try
        {
            listener = TransportFactory.CreateListener(config);
        }
        catch
        {
            Release(s);
            throw;
        }

        if (s.Attach(listener, config.ClientWaitMs))
        {
            return listener.LauncherArgs;
        }

        listener.Dispose();
        throw Cancelled("creating the listener");
    }

    /// <summary>Connects to a listener, retrying up to the config's connect timeout. Cleanup from another thread cancels it.</summary>
    public void Connect(TransportConfig config)
    {
        IpcSession s = Reserve(config.HeartbeatMs, listenerSide: false, config.Reconnect ? config : null);
        ConnectionBase connection;
        try
        {
            connection = TransportFactory.CreateConnection(config, s.CancelToken);
        }
        catch (OperationCanceledException)
        {
            Release(s);
            throw Cancelled("connecting");
        }
        catch
        {
            Release(s);
            throw;
        }

        if (!s.Attach(connection))
        {
            connection.DisposeNow();
            throw Cancelled("connecting");
        }

        try
        {
            // Before connect returns, so the announcement is the first frame after the auth frame.
            s.Heartbeat.Announce(connection);
            s.Resume?.Announce(connection);
        }
        catch (IpcException) when (s.Closed)
        {
            throw Cancelled("connecting");
        }
    }

    /// <summary>
    /// dapper_ipc_adopt: connected over a stream the host already holds. The manager is
    /// reserved first, so a busy one refuses before <paramref name="make"/> touches the
    /// handles (a borrowed socket is then not shut down).
    /// </summary>
    public void AdoptConnection(Func<ConnectionBase> make)
    {
        IpcSession s = Reserve(0, listenerSide: false);
        ConnectionBase connection;
        try
        {
            connection = make();
        }
        catch
        {
            Release(s);
            throw;
        }

        if (!s.Attach(connection))
        {
            connection.DisposeNow();
            throw Cancelled("adopting");
        }
    }

    /// <summary>
    /// Makes this (new) manager the owner of a connection a session listener accepted and
    /// routed by its hello: from here it is a connected manager like one made by connect.
    /// Returns the session, so the listener can end exactly that one at its cleanup.
    /// </summary>
    internal IpcSession Adopt(ConnectionBase connection, byte[] hello)
    {
        IpcSession s = Reserve(0, listenerSide: false);
        s.Attach(connection);
        Hello = hello;
        return s;
    }

    /// <summary>The hello payload (JSON, as received) of the subprocess session a session listener made this manager for; null otherwise.</summary>
    public byte[]? Hello { get; private set; }

    /// <summary>Cleans up <paramref name="session"/> if it is still this manager's (the host may have cleaned it up and listened again since).</summary>
    internal void Cleanup(IpcSession session)
    {
        lock (_gate)
        {
            if (_session != session)
            {
                return;
            }
        }

        Cleanup(abort: false, only: session);
    }

    /// <summary>The session listener's part of this manager is over once its session has been cleaned up.</summary>
    internal bool Holds(IpcSession session)
    {
        lock (_gate)
        {
            return _session == session;
        }
    }

    /// <summary>The listener's launcher arguments.</summary>
    public IReadOnlyList<string> LauncherArgs
        => Current()?.Listener?.LauncherArgs
            ?? throw new IpcException(IpcStatus.InvalidState, "the manager has no listener: call create_listener first");

    /// <summary>The token a launcher must present, for a listener created with RequireAuth.</summary>
    public string AuthToken
    {
        get
        {
            ListenerBase? listener = Current()?.Listener;
            return listener?.AuthToken ?? throw new IpcException(IpcStatus.InvalidState, listener is null
                ? "the manager has no listener: call create_listener first"
                : "the listener does not require auth: create it with DAPPER_IPC_FLAG_REQUIRE_AUTH");
        }
    }

    /// <summary>The certificate fingerprint of a tls or wss listener ("sha256:" and 64 hex digits).</summary>
    public string TlsFingerprint
    {
        get
        {
            ListenerBase? listener = Current()?.Listener;
            string? fingerprint = listener switch
            {
                Transports.Tls.TlsListener tls => tls.Fingerprint,
                Transports.Ws.WsListener ws => ws.Fingerprint,
                _ => null,
            };
            return fingerprint ?? throw new IpcException(IpcStatus.InvalidState, listener is null
                ? "the manager has no listener: call create_listener first"
                : $"the listener {listener.Description} is not tls or wss: it has no certificate");
        }
    }

    /// <summary>A thread is accepting on this manager's listener (for tests that must act while one is).</summary>
    internal bool IsAccepting => Current()?.IsAccepting ?? false;

    /// <summary>The counters and state of dapper_ipc_get_stats.</summary>
    public StatsSnapshot GetStats()
    {
        IpcSession? s = Volatile.Read(ref _session);
        ConnectionStats c = _stats;
        return new StatsSnapshot(
            s?.State ?? Interop.State.Idle,
            Volatile.Read(ref c.FramesSent),
            Volatile.Read(ref c.FramesReceived),
            Volatile.Read(ref c.BytesSent),
            Volatile.Read(ref c.BytesReceived),
            Volatile.Read(ref c.Connects),
            (long)(Volatile.Read(ref c.SendBlockedTicks) * (1_000_000_000.0 / System.Diagnostics.Stopwatch.Frequency)),
            ConnectionStats.MsAgoStamp(Volatile.Read(ref c.LastSendStamp)),
            StampClock.MsAgo(Volatile.Read(ref c.LastReceiveStamp)),
            Volatile.Read(ref c.HeartbeatRttUs));
    }

    public bool IsConnected => Current()?.Connection is { IsClosed: false };

    /// <summary>Waits until a client is connected; accepts on this thread unless another thread is accepting.</summary>
    public void WaitForClient(int timeoutMs)
    {
        IpcSession s = Current() ?? throw new IpcException(IpcStatus.InvalidState,
            "wait_for_client needs a listener: call create_listener first");
        if (s.IsReaderThread)
        {
            throw new IpcException(IpcStatus.InvalidState, "wait_for_client cannot be called on the reader thread");
        }

        s.AcceptOrWait(timeoutMs);
    }

    /// <summary>Starts the dedicated reader thread (which accepts first, for a listener).</summary>
    public void StartReader()
    {
        lock (_gate)
        {
            IpcSession s = _session ?? throw new IpcException(IpcStatus.InvalidState,
                "start_reader needs a listener or a connection: call create_listener or connect first");
            s.StartReader(_handler, _lastReaderSession);
            _lastReaderSession = s;
        }
    }

    /// <summary>Sends one frame; any thread. Throws NotConnected with no peer, Closed once it is gone.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Send(byte kind, ReadOnlySpan<byte> payload)
    {
        IpcSession? s = Volatile.Read(ref _session);
        if (s?.Resume is { } resume)
        {
            SendResumable(s, resume, kind, payload);
            return;
        }

        ConnectionForSend(s).SendFrame(kind, payload);
    }

    // Apart, so the plain send stays small enough to be inlined into the export.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static unsafe void SendResumable(IpcSession s, Resume resume, byte kind, ReadOnlySpan<byte> payload)
    {
        fixed (byte* p = payload)
        {
            var frame = new NativeFrame(kind, p, (nuint)payload.Length);
            SendResumable(s, resume, new ReadOnlySpan<NativeFrame>(in frame));
        }
    }

    // DAPPER_IPC_FLAG_RECONNECT: the frames are kept for a resume, and a drop waits for it.
    private static void SendResumable(IpcSession s, Resume resume, ReadOnlySpan<NativeFrame> frames)
    {
        _ = s.Connection ?? s.WaitForSendConnection();
        resume.Send(frames);
    }

    /// <summary>
    /// Sends a batch in order and in as few writes as possible; see <see cref="ConnectionBase.SendFrames"/>
    /// (a failure's IpcException.FramesSent says how many went out whole). A bad kind or
    /// NULL payload is InvalidArgument with nothing sent.
    /// </summary>
    public void SendFrames(ReadOnlySpan<NativeFrame> frames)
    {
        SendChecks.Batch(frames);
        IpcSession? s = Volatile.Read(ref _session);
        if (s?.Resume is { } resume)
        {
            SendResumable(s, resume, frames);
            return;
        }

        ConnectionForSend(s).SendFrames(frames);
    }

    /// <summary>Pull mode: whole frames on the calling thread; see <see cref="IpcSession.Recv"/>.</summary>
    public IpcStatus Recv(Span<byte> destination, Span<ReceivedFrame> frames, out int count, int timeoutMs)
    {
        IpcSession s = Volatile.Read(ref _session) ?? throw new IpcException(IpcStatus.InvalidState,
            "recv needs a listener or a connection: call create_listener or connect first");
        return s.Recv(destination, frames, out count, timeoutMs, Volatile.Read(ref _handler));
    }

    /// <summary>Pull mode: the handle a host polls; see <see cref="IpcSession.ReadableHandle"/>.</summary>
    public nint ReadableHandle()
    {
        IpcSession s = Volatile.Read(ref _session) ?? throw new IpcException(IpcStatus.InvalidState,
            "readable_handle needs a connection: call create_listener or connect first");
        return s.ReadableHandle(Volatile.Read(ref _handler));
    }

    private static ConnectionBase ConnectionForSend(IpcSession? s)
    {
        // The hot path is the first read; only a send before the client arrived waits.
        return s?.Connection ?? s?.WaitForSendConnection()
            ?? throw new IpcException(IpcStatus.NotConnected, "not connected: call create_listener or connect first");
    }

    /// <summary>
    /// Closes everything and waits until no callback of this manager runs, including the
    /// readers of earlier sessions that a callback cleaned up; then the manager can listen
    /// or connect again. Idempotent. Waiting is skipped for the calling thread's own reader
    /// (inside a callback: it ends when the callback returns) and where it would deadlock
    /// (two callbacks cleaning up each other's managers); a later cleanup on another
    /// thread waits for those.
    /// </summary>
    public void Cleanup() => Cleanup(abort: false);

    /// <summary>Cleanup without the linger: frames still queued in the kernel may be lost. Ends the linger of a cleanup under way on another thread.</summary>
    public void Abort() => Cleanup(abort: true);

    private void Cleanup(bool abort, IpcSession? only = null)
    {
        while (true)
        {
            IpcSession[] stopping;
            IpcSession? s;
            lock (_gate)
            {
                s = _session;
                if (only is not null && s != only)
                {
                    return; // the host cleaned it up meanwhile, and may have listened again
                }

                _session = null;
                if (s is not null)
                {
                    _stopping.Add(s);
                }

                stopping = [.. _stopping];
            }

            foreach (IpcSession stopped in stopping)
            {
                if (abort)
                {
                    stopped.Abort();
                }
                else
                {
                    stopped.Close();
                }

                if (stopped.Stop())
                {
                    lock (_gate)
                    {
                        _stopping.Remove(stopped);
                    }
                }
            }

            lock (_gate)
            {
                // A callback that was still running may have listened or connected again
                // before it returned: that session is cleaned up too.
                if (_session is null || _session.IsReaderThread)
                {
                    return;
                }
            }
        }
    }

    public void Dispose() => Cleanup();

    private IpcSession? Current()
    {
        lock (_gate)
        {
            return _session;
        }
    }

    private IpcSession Reserve(int heartbeatMs, bool listenerSide, TransportConfig? reconnect = null)
    {
        lock (_gate)
        {
            if (_session is not null)
            {
                throw new IpcException(IpcStatus.InvalidState,
                    "the manager already has a listener or connection: call cleanup first");
            }

            _session = new IpcSession(_stats, heartbeatMs, listenerSide, reconnect);
            return _session;
        }
    }

    private void Release(IpcSession s)
    {
        lock (_gate)
        {
            if (_session == s)
            {
                _session = null;
            }
        }
    }

    private static IpcException Cancelled(string what)
        => new(IpcStatus.Cancelled, $"cleanup ran while {what}");
}

/// <summary>What dapper_ipc_get_stats reports (see dapper_ipc_stats in the header).</summary>
public readonly record struct StatsSnapshot(
    Interop.State State,
    long FramesSent,
    long FramesReceived,
    long BytesSent,
    long BytesReceived,
    long Connects,
    long SendBlockedNs,
    long LastSendMsAgo,
    long LastReceiveMsAgo,
    long HeartbeatRttUs);
