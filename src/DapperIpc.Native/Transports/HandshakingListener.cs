using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading;
using DapperIpc.Diagnostics;

namespace DapperIpc.Transports;

/// <summary>
/// A tcp listener whose clients must finish a handshake (tls, the websocket upgrade) before
/// Accept sees them. The handshakes are stepped side by side on the listener's own thread
/// (non-blocking sockets, one poll over all of them), each within
/// <see cref="HandshakeTimeoutMs"/>, so a client that stalls mid-handshake, or a flood of
/// half-open ones, holds up nobody. At most <see cref="MaxPending"/> handshakes wait at once
/// (the oldest is dropped for a new one) and at most <see cref="MaxReady"/> finished clients
/// wait to be accepted, so memory stays bounded. The thread runs from creation to Dispose, as
/// a tcp backlog does, so a client's connect need not wait for the host to accept. A subclass
/// says how a handshake starts (<see cref="Begin"/>), advances (<see cref="Step"/>) and ends
/// late (<see cref="Expire"/>), and what it logs.
/// </summary>
internal abstract class HandshakingListener<TPending> : ListenerBase
    where TPending : HandshakePending
{
    public const int HandshakeTimeoutMs = TokenHandshake.ReadTimeoutMs;
    public const int MaxPending = 1024;

    /// <summary>Clients done with their handshake that may wait for the host to accept them.</summary>
    public const int MaxReady = 16;

    // Deep enough that a burst of connects waits in the kernel while the thread drains it.
    private const int Backlog = 512;

    private readonly Socket _socket;
    private readonly string _kind;
    private readonly List<TPending> _pending = new();
    private readonly Queue<SocketConnection> _ready = new();
    private readonly Thread _thread;
    private IpcException? _failure;
    private int _disposed;

    /// <param name="kind">The transport's name in the message of a failure that ends the thread.</param>
    protected HandshakingListener(Socket socket, ConnectionOptions options, string kind, string threadName)
    {
        _socket = socket;
        Options = options;
        _kind = kind;
        _thread = new Thread(HandshakeLoop) { IsBackground = true, Name = threadName };
    }

    protected ConnectionOptions Options { get; }

    public override string? AuthToken => Options.AuthToken;

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// A non-blocking tcp socket bound for a handshaking listener; <paramref name="owned"/> (what
    /// the listener would have owned) is disposed when binding fails, as the listener would have.
    /// </summary>
    protected static Socket Bind(string host, int port, string scheme, bool warnOffLoopback, IDisposable? owned)
    {
        Socket socket;
        try
        {
            socket = TcpSocketListener.Bind(host, port, scheme, Backlog, warnOffLoopback);
        }
        catch
        {
            owned?.Dispose();
            throw;
        }

        socket.Blocking = false;
        return socket;
    }

    /// <summary>Starts the handshake thread; the last step of a subclass's Create.</summary>
    protected void Start()
    {
        _thread.Start();
        Log.Listening(Description);
    }

    /// <summary>The deadline of a handshake that begins now, for a new pending entry.</summary>
    protected static long HandshakeDeadline() => ConnectionBase.Deadline(HandshakeTimeoutMs);

    public override ConnectionBase? Accept(int timeoutMs) => TakeReady(timeoutMs);

    internal override ConnectionBase? AcceptNext(int timeoutMs) => TakeReady(timeoutMs);

    /// <summary>The next client whose handshake is done, waiting at most <paramref name="timeoutMs"/> (negative: no limit); null on timeout.</summary>
    protected ConnectionBase? TakeReady(int timeoutMs)
    {
        long start = Stopwatch.GetTimestamp();
        lock (_ready)
        {
            while (true)
            {
                if (IsDisposed)
                {
                    throw Cancelled();
                }

                if (_ready.Count > 0)
                {
                    return _ready.Dequeue();
                }

                if (_failure is not null)
                {
                    throw _failure;
                }

                if (timeoutMs < 0)
                {
                    Monitor.Wait(_ready);
                    continue;
                }

                int left = timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (left <= 0 || !Monitor.Wait(_ready, left) && _ready.Count == 0 && !IsDisposed)
                {
                    return null;
                }
            }
        }
    }

    /// <summary>
    /// Sets up a just-accepted client's handshake: its pending entry (with
    /// <see cref="HandshakeDeadline"/>), or null when it is refused at once (logged and closed).
    /// </summary>
    protected abstract TPending? Begin(Socket client);

    /// <summary>
    /// Advances <paramref name="p"/> (at <paramref name="index"/>) now that its socket is ready:
    /// the connection once its handshake is done and it has left the list, else null (the
    /// handshake goes on, or it failed and <see cref="Drop"/> or <see cref="Remove"/> took it out).
    /// </summary>
    protected abstract SocketConnection? Step(TPending p, int index);

    /// <summary>Takes out <paramref name="p"/> (at <paramref name="index"/>), whose deadline has passed.</summary>
    protected abstract void Expire(TPending p, int index);

    /// <summary>The log line for a client given up on before Accept (<paramref name="who"/>: its address or its connection).</summary>
    protected abstract void LogAbandoned(string who, string why);

    /// <summary>The log line for a client done with its handshake that found <see cref="MaxReady"/> others waiting; it is closed after.</summary>
    protected abstract void LogNoRoom(SocketConnection connection, TPending p);

    /// <summary>Accepts clients and steps their handshakes until the listener is disposed.</summary>
    private void HandshakeLoop()
    {
        var readable = new List<Socket>();
        var writable = new List<Socket>();
        try
        {
            while (!IsDisposed)
            {
                long now = Stopwatch.GetTimestamp();
                for (int i = _pending.Count - 1; i >= 0; i--)
                {
                    if (_pending[i].Deadline <= now)
                    {
                        Expire(_pending[i], i);
                    }
                }

                long waitMs = long.MaxValue;
                foreach (TPending p in _pending)
                {
                    waitMs = Math.Min(waitMs, Math.Max(0, (p.Deadline - now) * 1000 / Stopwatch.Frequency + 1));
                }

                readable.Clear();
                writable.Clear();
                readable.Add(_socket);
                foreach (TPending p in _pending)
                {
                    (p.WantsWrite ? writable : readable).Add(p.Socket);
                }

                Socket.Select(readable, writable.Count > 0 ? writable : null, null,
                    waitMs >= int.MaxValue / 1000 ? -1 : (int)waitMs * 1000);
                if (IsDisposed)
                {
                    break;
                }

                readable.AddRange(writable);
                foreach (Socket s in readable)
                {
                    if (s == _socket)
                    {
                        AcceptWaiting();
                        continue;
                    }

                    int index = _pending.FindIndex(p => p.Socket == s);
                    if (index >= 0)
                    {
                        TPending p = _pending[index];
                        SocketConnection? done = Step(p, index);
                        if (done is not null)
                        {
                            Hand(done, p);
                        }
                    }
                }
            }
        }
        catch (Exception e) when (!IsDisposed)
        {
            lock (_ready)
            {
                _failure = e as IpcException ?? new IpcException(IpcStatus.Io, $"the {_kind} listener {Description} failed: {e.Message}", e);
                Monitor.PulseAll(_ready);
            }
        }
        catch (Exception)
        {
            // Disposed: the socket went away under the poll.
        }
        finally
        {
            for (int i = _pending.Count - 1; i >= 0; i--)
            {
                Remove(i);
            }
        }
    }

    /// <summary>Queues a client whose handshake is done for Accept, or closes it when <see cref="MaxReady"/> already wait.</summary>
    private void Hand(SocketConnection connection, TPending p)
    {
        lock (_ready)
        {
            if (!IsDisposed && _ready.Count < MaxReady)
            {
                _ready.Enqueue(connection);
                Monitor.PulseAll(_ready);
                return;
            }
        }

        LogNoRoom(connection, p);
        connection.DisposeNow();
    }

    /// <summary>Takes every connection waiting in the backlog into the handshake list.</summary>
    private void AcceptWaiting()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = _socket.Accept();
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.TryAgain
                                                or SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                return;
            }
            catch (SocketException e)
            {
                throw SocketErrors.ToIpc(e, $"accept on {Description}");
            }

            if (_pending.Count >= MaxPending)
            {
                Drop(0, $"{MaxPending} handshakes were waiting at once; this oldest one made room for a new client");
            }

            TPending? p = Begin(client);
            if (p is not null)
            {
                _pending.Add(p);
            }
        }
    }

    protected void Drop(int index, string why)
    {
        LogAbandoned(_pending[index].Peer, why);
        Remove(index);
    }

    /// <summary>Takes the entry at <paramref name="index"/> out of the list; closes what it holds unless the caller keeps it (<paramref name="dispose"/> false).</summary>
    protected void Remove(int index, bool dispose = true)
    {
        TPending p = _pending[index];
        _pending.RemoveAt(index);
        if (dispose)
        {
            p.Close();
        }
    }

    protected static string Peer(Socket client)
    {
        try
        {
            return client.RemoteEndPoint?.ToString() ?? "?";
        }
        catch (SocketException)
        {
            return "?";
        }
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Wakes the handshake thread's poll before anything is released under it.
        SocketErrors.ShutdownQuietly(_socket);
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }

        _socket.Dispose();
        lock (_ready)
        {
            while (_ready.Count > 0)
            {
                _ready.Dequeue().DisposeNow();
            }

            Monitor.PulseAll(_ready);
        }

        DisposeOwned();
    }

    /// <summary>Releases what the subclass owns (its tls context), once, after the thread and the queue are gone.</summary>
    protected abstract void DisposeOwned();
}

/// <summary>One client's handshake in progress on a <see cref="HandshakingListener{TPending}"/>.</summary>
internal abstract class HandshakePending(Socket socket, string peer, long deadline)
{
    public Socket Socket { get; } = socket;

    public string Peer { get; } = peer;

    /// <summary>A Stopwatch timestamp: past it the handshake is given up.</summary>
    public long Deadline { get; } = deadline;

    /// <summary>The handshake waits for room to send rather than for bytes to read.</summary>
    public bool WantsWrite { get; set; }

    /// <summary>Closes the client; a subclass releases what else its handshake held.</summary>
    public virtual void Close()
    {
        SocketErrors.ShutdownQuietly(Socket);
        Socket.Dispose();
    }
}
