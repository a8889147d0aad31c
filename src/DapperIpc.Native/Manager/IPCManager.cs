using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Transports;

namespace DapperIpc.Manager;

/// <summary>
/// Owns one connection's lifecycle (the design document's IPCManager): a listener or a
/// client connection, one dedicated reader thread that calls the handler for each
/// frame with no hand-off in between, sends from any thread, and cleanup.
/// </summary>
public sealed class IPCManager : IDisposable
{
    private readonly object _gate = new();
    private IpcSession? _session;
    private IConnectionHandler? _handler;

    /// <summary>Sets the handler the next reader will call. Not once a reader runs.</summary>
    public void SetHandler(IConnectionHandler? handler)
    {
        lock (_gate)
        {
            IpcSession? s = _session;
            if (s is not null)
            {
                lock (s.Gate)
                {
                    if (s.Reader is not null)
                    {
                        throw new IpcException(IpcStatus.InvalidState,
                            "callbacks cannot change while the reader runs; set them before start_reader, or after cleanup");
                    }
                }
            }

            _handler = handler;
        }
    }

    /// <summary>Creates a bound listener and returns the launcher arguments.</summary>
    public IReadOnlyList<string> CreateListener(TransportConfig config)
    {
        IpcSession s = Reserve();
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

        lock (s.Gate)
        {
            if (!s.Closed)
            {
                s.Listener = listener;
                return listener.LauncherArgs;
            }
        }

        listener.Dispose();
        throw Cancelled("creating the listener");
    }

    /// <summary>Connects to a listener, retrying up to the config's connect timeout. Cleanup from another thread cancels it.</summary>
    public void Connect(TransportConfig config)
    {
        IpcSession s = Reserve();
        ConnectionBase connection;
        try
        {
            connection = TransportFactory.CreateConnection(config, s.Cancel.Token);
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

        lock (s.Gate)
        {
            if (!s.Closed)
            {
                s.Connection = connection;
                return;
            }
        }

        connection.Dispose();
        throw Cancelled("connecting");
    }

    /// <summary>The listener's launcher arguments.</summary>
    public IReadOnlyList<string> LauncherArgs
    {
        get
        {
            ListenerBase? listener = Current()?.Listener;
            return listener?.LauncherArgs
                ?? throw new IpcException(IpcStatus.InvalidState, "the manager has no listener: call create_listener first");
        }
    }

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

    public bool IsConnected
    {
        get
        {
            ConnectionBase? c = Current()?.Connection;
            return c is not null && !c.IsClosed;
        }
    }

    /// <summary>Waits until a client is connected; accepts on this thread unless another thread is accepting.</summary>
    public void WaitForClient(int timeoutMs)
    {
        IpcSession s = Current() ?? throw new IpcException(IpcStatus.InvalidState,
            "wait_for_client needs a listener: call create_listener first");
        if (s.Reader == Thread.CurrentThread)
        {
            throw new IpcException(IpcStatus.InvalidState, "wait_for_client cannot be called on the reader thread");
        }

        AcceptOrWait(s, timeoutMs);
    }

    /// <summary>Starts the dedicated reader thread (which accepts first, for a listener).</summary>
    public void StartReader()
    {
        IpcSession s;
        lock (_gate)
        {
            s = _session ?? throw new IpcException(IpcStatus.InvalidState,
                "start_reader needs a listener or a connection: call create_listener or connect first");
            lock (s.Gate)
            {
                if (s.Closed || (s.Listener is null && s.Connection is null))
                {
                    throw new IpcException(IpcStatus.InvalidState,
                        "start_reader needs a listener or a connection: call create_listener or connect first");
                }

                if (s.Reader is not null)
                {
                    throw new IpcException(IpcStatus.InvalidState, "the reader is already running");
                }

                s.Handler = _handler;
                // A dedicated thread, not the pool: it blocks in recv and runs the host's
                // callbacks, and the host must know which thread that is.
                s.Reader = new Thread(() => ReaderMain(s))
                {
                    IsBackground = true,
                    Name = "dapper-ipc-reader",
                };
                s.Reader.Start();
            }
        }
    }

    /// <summary>Sends one frame; any thread. Throws NotConnected with no peer, Closed once it is gone.</summary>
    public void Send(byte kind, ReadOnlySpan<byte> payload) => ConnectionForSend().SendFrame(kind, payload);

    /// <summary>Sends a batch in order and in as few writes as possible; see <see cref="ConnectionBase.SendFrames"/>.</summary>
    public void SendFrames(ReadOnlySpan<OutgoingFrame> frames, ref int framesSent)
    {
        framesSent = 0;
        ConnectionForSend().SendFrames(frames, ref framesSent);
    }

    private ConnectionBase ConnectionForSend()
    {
        IpcSession? s = Volatile.Read(ref _session);
        ConnectionBase? c = s is null ? null : Volatile.Read(ref s.Connection);
        return c ?? throw new IpcException(IpcStatus.NotConnected, s?.Listener is not null
            ? "no client is connected yet: the listener is still waiting for one (wait_for_client first)"
            : "not connected: call create_listener or connect first");
    }

    /// <summary>
    /// Closes everything, waits for the reader unless called on it, then forgets the
    /// connection. Idempotent. On the reader thread (inside a callback) it cannot wait
    /// for itself: the reader ends when the callback returns.
    /// </summary>
    public void Cleanup()
    {
        IpcSession? s = Current();
        if (s is null)
        {
            return;
        }

        s.Close();
        Thread? reader;
        lock (s.Gate)
        {
            reader = s.Reader;
        }

        if (reader != Thread.CurrentThread)
        {
            reader?.Join();
            ConnectionBase? connection;
            lock (s.Gate)
            {
                connection = s.Connection;
            }

            connection?.Dispose();
        }

        lock (_gate)
        {
            if (_session == s)
            {
                _session = null;
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

    private IpcSession Reserve()
    {
        lock (_gate)
        {
            if (_session is not null)
            {
                throw new IpcException(IpcStatus.InvalidState,
                    "the manager already has a listener or connection: call cleanup first");
            }

            _session = new IpcSession();
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

    /// <summary>
    /// Returns the session's connection once a client is accepted. One thread accepts at a
    /// time; the others wait on the session for its result (or their turn).
    /// </summary>
    private static ConnectionBase AcceptOrWait(IpcSession s, int timeoutMs)
    {
        long start = Stopwatch.GetTimestamp();
        int Remaining() => timeoutMs < 0
            ? Timeout.Infinite
            : Math.Max(0, timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds);

        ListenerBase listener;
        lock (s.Gate)
        {
            while (true)
            {
                if (s.Closed)
                {
                    throw Cancelled("waiting for a client");
                }

                if (s.Connection is not null)
                {
                    return s.Connection;
                }

                if (s.Listener is null)
                {
                    throw new IpcException(IpcStatus.InvalidState, "wait_for_client needs a listener: call create_listener first");
                }

                if (!s.Accepting)
                {
                    s.Accepting = true;
                    listener = s.Listener;
                    break;
                }

                int wait = Remaining();
                if (wait == 0)
                {
                    throw TimedOut(timeoutMs);
                }

                Monitor.Wait(s.Gate, wait);
            }
        }

        ConnectionBase? accepted = null;
        try
        {
            accepted = listener.Accept(Remaining());
        }
        finally
        {
            lock (s.Gate)
            {
                s.Accepting = false;
                if (accepted is not null && !s.Closed)
                {
                    s.Connection = accepted;
                }

                Monitor.PulseAll(s.Gate);
            }
        }

        if (accepted is null)
        {
            throw TimedOut(timeoutMs);
        }

        if (s.Closed)
        {
            accepted.Dispose();
            throw Cancelled("waiting for a client");
        }

        Log.Connected(accepted.Description);
        return accepted;
    }

    private static IpcException TimedOut(int timeoutMs)
        => new(IpcStatus.Timeout, $"no client connected within {timeoutMs} ms");

    private static void ReaderMain(IpcSession s)
    {
        ConnectionBase connection;
        try
        {
            connection = AcceptOrWait(s, Timeout.Infinite);
        }
        catch (IpcException e)
        {
            // Cancelled is the host's own cleanup; anything else it must hear about.
            if (!s.Closed)
            {
                Notify(s, ConnectionEvent.Disconnected, e.Status, e.Message);
            }

            return;
        }

        Notify(s, ConnectionEvent.Connected, IpcStatus.Ok, $"connected: {connection.Description}");

        IpcStatus status = IpcStatus.Ok;
        string reason = "the peer closed the connection";
        using (var reader = new FrameReader(connection.MaxPayload))
        {
            try
            {
                reader.Run(connection, new Dispatcher(s, connection.Description));
            }
            catch (IpcException e)
            {
                status = e.Status;
                reason = e.Message;
            }
            catch (Exception e)
            {
                status = IpcStatus.Internal;
                reason = $"internal error in the reader: {e.GetType().Name}: {e.Message}";
            }
        }

        // However the reading ended, the connection is finished: the peer sees end-of-file
        // (after a protocol error the stream cannot be resynchronised) and sends fail.
        connection.Close();
        if (!s.Closed)
        {
            Log.ConnectionEnded(connection.Description, status, reason);
            Notify(s, ConnectionEvent.Disconnected, status, reason);
        }

        connection.Dispose();
    }

    private static void Notify(IpcSession s, ConnectionEvent e, IpcStatus status, string reason)
    {
        IConnectionHandler? handler = s.Handler;
        if (handler is null || s.Closed)
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

    /// <summary>Hands each frame to the host's handler and stops as soon as cleanup ran.</summary>
    private sealed class Dispatcher(IpcSession session, string description) : IFrameHandler
    {
        private readonly IConnectionHandler? _handler = session.Handler;

        public bool OnFrame(byte kind, ReadOnlySpan<byte> payload)
        {
            if (session.Closed)
            {
                return false;
            }

            if (_handler is not null)
            {
                try
                {
                    _handler.OnMessage(kind, payload);
                }
                catch (Exception e)
                {
                    // The handler's bug must not end the connection.
                    Log.HandlerFailed(description, e);
                }
            }

            return !session.Closed;
        }
    }
}
