using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;
using DapperIpc.Transports;

namespace DapperIpc.Sessions;

/// <summary>
/// One shared endpoint for many subprocess launchers (docs/architecture.md's session
/// listener): bound once with a manager's listener code, it accepts any number of clients
/// at once, reads each client's first frame (the hello) under a deadline and a size limit
/// on a thread of its own, and routes the connection by the hello's session id to a
/// session the host expected, or one its offer callback accepts. Everything else is
/// refused, closed and logged, and never touches the other sessions. An accepted session
/// is handed out as an <see cref="IPCManager"/> that owns the connection.
/// </summary>
public sealed class SessionListener : IDisposable
{
    public const int DefaultHelloTimeoutMs = 5000;
    public const uint DefaultMaxHelloSize = 16 * 1024;

    // Guards every field below. Host callbacks (offer, log) are never called under it.
    private readonly object _gate = new();
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly HashSet<ConnectionBase> _pending = []; // clients whose hello is being read: cleanup aborts them, which wakes their threads
    private readonly List<Thread> _helloThreads = []; // not yet joined: Dispose joins them, so none outlives it
    private readonly ManualResetEventSlim _closing = new(false);
    private ListenerBase? _listener;
    private Thread? _acceptor;
    private Func<SessionHello, bool>? _offer;
    private int _helloTimeoutMs = DefaultHelloTimeoutMs;
    private uint _maxHelloSize = DefaultMaxHelloSize;
    private bool _closed;

    /// <summary>A session id the host expects or has: its connection until accepted, then its manager.</summary>
    private sealed class Slot
    {
        public ConnectionBase? Connection;
        public SessionHello? Hello;
        public IPCManager? Manager;
        public IpcSession? Session;
    }

    /// <summary>How long a client may take to send its whole hello (auth frame included), and the hello's largest size. For clients accepted afterwards.</summary>
    public void SetHelloLimits(int timeoutMs, uint maxSize)
    {
        if (timeoutMs <= 0)
        {
            throw new IpcException(IpcStatus.InvalidArgument, $"the hello timeout must be above 0 ms (got {timeoutMs})");
        }

        if (maxSize == 0 || maxSize > FrameHeader.DefaultMaxPayload)
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"the hello size limit must be between 1 and {FrameHeader.DefaultMaxPayload} bytes (got {maxSize})");
        }

        lock (_gate)
        {
            _helloTimeoutMs = timeoutMs;
            _maxHelloSize = maxSize;
        }
    }

    /// <summary>Sets (or, with null, removes) the callback offered the sessions nobody expected: true accepts one.</summary>
    public void SetOffer(Func<SessionHello, bool>? offer)
    {
        lock (_gate)
        {
            _offer = offer;
        }
    }

    /// <summary>
    /// Binds the shared endpoint (a manager's listener: same defaults and security) and
    /// starts accepting on its own thread. Returns the launcher arguments every child gets.
    /// Once per session listener.
    /// </summary>
    public IReadOnlyList<string> Listen(TransportConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        ListenerBase listener = TransportFactory.CreateSharedListener(config);

        lock (_gate)
        {
            if (_closed || _listener is not null)
            {
                listener.Dispose();
                throw new IpcException(_closed ? IpcStatus.Cancelled : IpcStatus.InvalidState, _closed
                    ? "the session listener was cleaned up while it was binding"
                    : "the session listener already listens (one endpoint per session listener)");
            }

            _listener = listener;
            _acceptor = new Thread(() => AcceptLoop(listener)) { IsBackground = true, Name = "dapper-ipc-sessions" };
            _acceptor.Start();
        }

        return listener.LauncherArgs;
    }

    /// <summary>The shared endpoint's launcher arguments.</summary>
    public IReadOnlyList<string> LauncherArgs => Listening().LauncherArgs;

    /// <summary>The token every child must present (before its hello), for an endpoint created with RequireAuth.</summary>
    public string AuthToken => Listening().AuthToken
        ?? throw new IpcException(IpcStatus.InvalidState, "the session listener does not require auth: listen with DAPPER_IPC_FLAG_REQUIRE_AUTH");

    /// <summary>Announces a session: its hello will be routed here, once. InvalidState if the id is expected or connected already.</summary>
    public void Expect(string sessionId)
    {
        CheckId(sessionId);
        lock (_gate)
        {
            if (_closed)
            {
                throw Closed();
            }

            ForgetEnded();
            if (!_slots.TryAdd(sessionId, new Slot()))
            {
                throw new IpcException(IpcStatus.InvalidState, $"session '{sessionId}' is already expected or connected");
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (negative: no limit) for the expected (or
    /// offered and accepted) session's client, and returns a manager that owns its
    /// connection. An id not expected is waited for only while an offer callback is set (it
    /// may yet be offered and accepted). Throws IpcException: Timeout, Cancelled when cleanup
    /// ran, InvalidState for an id not expected without an offer callback, or one already
    /// accepted.
    /// </summary>
    public IPCManager Accept(string sessionId, int timeoutMs)
    {
        CheckId(sessionId);
        long start = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            while (true)
            {
                if (_closed)
                {
                    throw new IpcException(IpcStatus.Cancelled, $"cleanup ran while waiting for session '{sessionId}'");
                }

                if (!_slots.TryGetValue(sessionId, out Slot? slot))
                {
                    // With an offer callback the id may yet be offered and accepted: wait for that.
                    if (_offer is null)
                    {
                        throw new IpcException(IpcStatus.InvalidState,
                            $"session '{sessionId}' is not expected: call expect first (or set an offer callback that accepts it)");
                    }
                }
                else if (slot.Manager is not null)
                {
                    throw new IpcException(IpcStatus.InvalidState, $"session '{sessionId}' was already accepted");
                }

                else if (slot.Connection is not null)
                {
                    var manager = new IPCManager();
                    slot.Session = manager.Adopt(slot.Connection, slot.Hello!.Payload);
                    slot.Manager = manager;
                    slot.Connection = null;
                    return manager;
                }

                int left = timeoutMs < 0 ? Timeout.Infinite
                    : (int)Math.Max(0, timeoutMs - (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (left == 0)
                {
                    throw new IpcException(IpcStatus.Timeout, $"session '{sessionId}' did not connect within {timeoutMs} ms");
                }

                Monitor.Wait(_gate, left);
            }
        }
    }

    /// <summary>
    /// Closes the endpoint (its socket file too), refuses the clients whose hello is still
    /// coming, waits for the listener's threads, and cleans up every session it accepted
    /// (their lingers run side by side) and every one not yet accepted. Idempotent.
    /// </summary>
    public void Dispose()
    {
        ListenerBase? listener;
        Thread? acceptor;
        ConnectionBase[] pending;
        Thread[] helloThreads;
        Slot[] slots;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            listener = _listener;
            acceptor = _acceptor;
            pending = [.. _pending];
            helloThreads = [.. _helloThreads];
            _helloThreads.Clear();
            slots = [.. _slots.Values];
            _slots.Clear();
            Monitor.PulseAll(_gate);
        }

        _closing.Set();
        listener?.Dispose();
        foreach (ConnectionBase client in pending)
        {
            client.Abort();
        }

        Join(acceptor);
        foreach (Thread thread in helloThreads)
        {
            Join(thread);
        }

        // The acceptor is gone, so no client is added after this. Every session's sending
        // side is closed first, so their lingers overlap instead of adding up.
        foreach (Slot slot in slots)
        {
            slot.Connection?.DisposeNow();
            slot.Session?.Close();
        }

        foreach (Slot slot in slots)
        {
            if (slot.Session is not null)
            {
                slot.Manager!.Cleanup(slot.Session);
            }
        }
    }

    private static void Join(Thread? thread)
    {
        // A callback of ours (the offer, a log message) may be the one cleaning up.
        if (thread is not null && thread != Thread.CurrentThread)
        {
            thread.Join();
        }
    }

    private void AcceptLoop(ListenerBase listener)
    {
        while (true)
        {
            ConnectionBase? client;
            try
            {
                client = listener.AcceptNext(Timeout.Infinite);
            }
            catch (IpcException e) when (e.Status == IpcStatus.Cancelled)
            {
                return;
            }
            catch (IpcException e)
            {
                // Out of descriptors, say: the client stays queued; try again shortly.
                Log.SessionAcceptFailed(listener.Description, e.Message);
                if (_closing.Wait(100))
                {
                    return;
                }

                continue;
            }

            if (client is null)
            {
                continue;
            }

            Handle(listener, client);
        }
    }

    /// <summary>
    /// On the accepting thread. The launcher writes its hello right after it connects, so it
    /// is usually whole in the socket already: then it is read and routed here, with no
    /// thread to start. Otherwise (a token comes first, the hello is still on its way, or the
    /// host's offer callback must decide, which may take its time) a thread of its own
    /// waits for it, and the next client is accepted at once.
    /// </summary>
    private void Handle(ListenerBase listener, ConnectionBase client)
    {
        int timeoutMs;
        uint maxSize;
        lock (_gate)
        {
            timeoutMs = _helloTimeoutMs;
            maxSize = _maxHelloSize;
        }

        if (listener.AuthToken is null && client.HasWholeFrame(maxSize))
        {
            SessionHello? hello = HelloReader.Read(client, ConnectionBase.Deadline(timeoutMs), timeoutMs, maxSize,
                out string refusal);
            if (hello is null || !NeedsOffer(hello.SessionId))
            {
                Admit(listener, client, hello, refusal);
                return;
            }

            StartHelloThread(listener, client, hello);
            return;
        }

        StartHelloThread(listener, client, null);
    }

    private bool NeedsOffer(string sessionId)
    {
        lock (_gate)
        {
            ForgetEnded();
            return _offer is not null && !_slots.ContainsKey(sessionId);
        }
    }

    private void StartHelloThread(ListenerBase listener, ConnectionBase client, SessionHello? hello)
    {
        lock (_gate)
        {
            if (_closed)
            {
                client.DisposeNow();
                return;
            }

            var thread = new Thread(() => ReadHello(listener, client, hello)) { IsBackground = true, Name = "dapper-ipc-hello" };
            _helloThreads.RemoveAll(t => !t.IsAlive);
            _helloThreads.Add(thread);
            _pending.Add(client);
            thread.Start();
        }
    }

    /// <summary>A client's own thread: reads its auth frame and hello (unless the acceptor already read the hello), then admits it.</summary>
    private void ReadHello(ListenerBase listener, ConnectionBase client, SessionHello? hello)
    {
        string refusal = string.Empty;
        try
        {
            if (hello is null)
            {
                int timeoutMs;
                uint maxSize;
                lock (_gate)
                {
                    timeoutMs = _helloTimeoutMs;
                    maxSize = _maxHelloSize;
                }

                long deadline = ConnectionBase.Deadline(timeoutMs);
                refusal = listener.AuthRefusal(client, timeoutMs) ?? string.Empty;
                if (refusal.Length == 0)
                {
                    hello = HelloReader.Read(client, deadline, timeoutMs, maxSize, out refusal);
                }
            }
        }
        catch (Exception e)
        {
            refusal = $"internal error while reading its hello: {e.Message}";
        }
        finally
        {
            lock (_gate)
            {
                _pending.Remove(client);
            }
        }

        Admit(listener, client, hello, refusal);
    }

    /// <summary>Routes a client with its hello (or refuses it for <paramref name="refusal"/>), closes it unless kept, and logs which.</summary>
    private void Admit(ListenerBase listener, ConnectionBase client, SessionHello? hello, string refusal)
    {
        bool kept = false;
        int? peerPid = client.PeerProcessId;
        try
        {
            if (hello is not null)
            {
                refusal = Route(hello, client, out kept) ?? string.Empty;
            }
        }
        catch (Exception e)
        {
            refusal = $"internal error while routing its hello: {e.Message}";
        }

        bool closed;
        lock (_gate)
        {
            closed = _closed;
        }

        if (kept)
        {
            Log.SessionReady(listener.Description, hello!.SessionId, peerPid);
            return;
        }

        client.DisposeNow();
        // A client cut off by cleanup is not a refusal worth a warning.
        if (!closed)
        {
            Log.SessionRefused(listener.Description, peerPid, refusal);
        }
    }

    /// <summary>Hands the client to its session: null when kept, else the reason to refuse it.</summary>
    private string? Route(SessionHello hello, ConnectionBase client, out bool kept)
    {
        string id = hello.SessionId;
        Func<SessionHello, bool>? offer;
        kept = false;
        lock (_gate)
        {
            if (_closed)
            {
                return "the session listener is closing";
            }

            ForgetEnded();
            if (_slots.TryGetValue(id, out Slot? slot))
            {
                return Fill(slot, hello, client, out kept);
            }

            offer = _offer;
        }

        if (offer is null)
        {
            return $"session '{id}' was not expected (the host expects the ids it launches, or sets an offer callback)";
        }

        bool accepted;
        try
        {
            accepted = offer(hello);
        }
        catch (Exception e)
        {
            Log.SessionOfferFailed(id, e);
            accepted = false;
        }

        if (!accepted)
        {
            return $"the host's offer callback refused session '{id}'";
        }

        lock (_gate)
        {
            if (_closed)
            {
                return "the session listener is closing";
            }

            ForgetEnded();
            if (!_slots.TryGetValue(id, out Slot? slot))
            {
                slot = new Slot();
                _slots.Add(id, slot);
            }

            return Fill(slot, hello, client, out kept);
        }
    }

    /// <summary>Under the gate: the client becomes the slot's, unless the session has one already (a duplicate hello).</summary>
    private string? Fill(Slot slot, SessionHello hello, ConnectionBase client, out bool kept)
    {
        kept = false;
        if (slot.Connection is not null || slot.Manager is not null)
        {
            return $"duplicate hello: session '{hello.SessionId}' is already connected";
        }

        slot.Connection = client;
        slot.Hello = hello;
        kept = true;
        Monitor.PulseAll(_gate);
        return null;
    }

    /// <summary>Under the gate: drops the sessions whose managers the host has cleaned up, so their ids can come again and memory stays bounded.</summary>
    private void ForgetEnded()
    {
        List<string>? ended = null;
        foreach (KeyValuePair<string, Slot> entry in _slots)
        {
            if (entry.Value.Session is { } s && !entry.Value.Manager!.Holds(s))
            {
                (ended ??= []).Add(entry.Key);
            }
        }

        foreach (string id in ended ?? [])
        {
            _slots.Remove(id);
        }
    }

    private ListenerBase Listening()
    {
        lock (_gate)
        {
            return _listener is not null && !_closed ? _listener
                : throw new IpcException(IpcStatus.InvalidState, _closed
                    ? "the session listener was cleaned up"
                    : "the session listener does not listen yet: call listen first");
        }
    }

    private static IpcException Closed() => new(IpcStatus.InvalidState, "the session listener was cleaned up");

    private static void CheckId(string sessionId)
    {
        if (string.IsNullOrEmpty(sessionId))
        {
            throw new IpcException(IpcStatus.InvalidArgument, "the session id is empty");
        }
    }
}
