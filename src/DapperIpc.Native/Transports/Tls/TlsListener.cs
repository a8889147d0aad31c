using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using DapperIpc.Diagnostics;

namespace DapperIpc.Transports.Tls;

/// <summary>
/// The tls listener: tcp (loopback by default) with every client's tls handshake driven
/// side by side on the listener's own thread (non-blocking sockets, one poll over all of
/// them), each within <see cref="HandshakeTimeoutMs"/>, so a client that stalls mid-handshake,
/// or a flood of half-open ones, holds up nobody. At most <see cref="MaxPending"/>
/// handshakes wait at once (the oldest is dropped for a new one): memory stays bounded.
/// Clients whose handshake is done are queued for Accept, where the auth token (inside
/// tls) is checked as on tcp. The launcher arguments carry the certificate's fingerprint.
/// </summary>
internal sealed class TlsListener : ListenerBase
{
    public const int HandshakeTimeoutMs = TokenHandshake.ReadTimeoutMs;
    public const int MaxPending = 1024;
    public const int MaxReady = 16;
    private const int Backlog = 512;

    private readonly Socket _socket;
    private readonly ConnectionOptions _options;
    private readonly TlsContext _tls;
    private readonly List<Pending> _pending = new();
    private readonly Queue<SocketConnection> _ready = new();
    private readonly Thread _thread;
    private IpcException? _failure;
    private int _disposed;

    private TlsListener(Socket socket, string host, int port, ConnectionOptions options, TlsContext tls)
    {
        _socket = socket;
        _options = options;
        _tls = tls;
        string port_ = port.ToString(CultureInfo.InvariantCulture);
        LauncherArgs = ["--ipc", "tls", "--ipc-host", host, "--ipc-port", port_, "--ipc-tls-fingerprint", tls.Fingerprint!];
        Description = $"tls:{host}:{port_}";
        Port = port;
        _thread = new Thread(HandshakeLoop) { IsBackground = true, Name = "dapper-ipc tls handshakes" };
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description { get; }

    public int Port { get; }

    public override string? AuthToken => _options.AuthToken;

    /// <summary>"sha256:" and 64 hex digits of the listener's certificate.</summary>
    public string Fingerprint => _tls.Fingerprint!;

    public static TlsListener Create(string? host, int port, TlsContext tls, ConnectionOptions options)
    {
        host ??= "127.0.0.1";
        Socket socket;
        try
        {
            socket = TcpSocketListener.Bind(host, port, "tls", Backlog, warnOffLoopback: false);
        }
        catch
        {
            tls.Dispose();
            throw;
        }

        socket.Blocking = false;
        var listener = new TlsListener(socket, host, ((IPEndPoint)socket.LocalEndPoint!).Port, options, tls);
        listener._thread.Start();
        Log.Listening(listener.Description);
        return listener;
    }

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public override ConnectionBase? Accept(int timeoutMs)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            int left = timeoutMs < 0 ? -1 : Math.Max(0, timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            ConnectionBase? connection = TakeReady(left);
            if (connection is null)
            {
                return null;
            }

            string? refusal = AuthRefusal(connection, TokenHandshake.ReadTimeoutMs);
            if (refusal is null)
            {
                return connection;
            }

            Log.AuthRefused(Description, refusal);
            connection.DisposeNow();
        }
    }

    internal override ConnectionBase? AcceptNext(int timeoutMs) => TakeReady(timeoutMs);

    internal override string? AuthRefusal(ConnectionBase connection, int timeoutMs)
    {
        if (_options.AuthToken is null)
        {
            return null;
        }

        try
        {
            return TokenHandshake.Verify(connection, _options.AuthToken, timeoutMs);
        }
        catch (IpcException e)
        {
            return e.Message;
        }
    }

    private ConnectionBase? TakeReady(int timeoutMs)
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
                long waitMs = long.MaxValue;
                for (int i = _pending.Count - 1; i >= 0; i--)
                {
                    if (_pending[i].Deadline <= now)
                    {
                        Drop(i, $"its handshake was not done within {HandshakeTimeoutMs} ms");
                        continue;
                    }

                    waitMs = Math.Min(waitMs, (_pending[i].Deadline - now) * 1000 / Stopwatch.Frequency + 1);
                }

                readable.Clear();
                writable.Clear();
                readable.Add(_socket);
                foreach (Pending p in _pending)
                {
                    (p.WantsWrite ? writable : readable).Add(p.Socket);
                }

                Socket.Select(readable, writable.Count > 0 ? writable : null, null,
                    waitMs >= int.MaxValue / 1000 ? -1 : (int)waitMs * 1000);
                if (IsDisposed)
                {
                    break;
                }

                foreach (List<Socket> list in new[] { readable, writable })
                {
                    foreach (Socket s in list)
                    {
                        if (s == _socket)
                        {
                            AcceptWaiting();
                            continue;
                        }

                        int index = _pending.FindIndex(p => p.Socket == s);
                        if (index >= 0)
                        {
                            Step(index);
                        }
                    }
                }
            }
        }
        catch (Exception e) when (!IsDisposed)
        {
            lock (_ready)
            {
                _failure = e as IpcException ?? new IpcException(IpcStatus.Io, $"the tls listener {Description} failed: {e.Message}", e);
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

            string peer = Peer(client);
            TlsSession session;
            try
            {
                client.Blocking = false;
                client.NoDelay = true;
                session = _tls.NewSession((int)client.SafeHandle.DangerousGetHandle(), null);
            }
            catch (Exception e) when (e is IpcException or SocketException)
            {
                Log.TlsRefused(Description, peer, e.Message);
                client.Dispose();
                continue;
            }

            _pending.Add(new Pending(client, session, peer, Stopwatch.GetTimestamp() + (long)HandshakeTimeoutMs * Stopwatch.Frequency / 1000));
        }
    }

    private void Step(int index)
    {
        Pending p = _pending[index];
        int r = TlsShim.Handshake(p.Session.Handle);
        if (r is 1 or 2)
        {
            p.WantsWrite = r == 2;
            return;
        }

        if (r != 0)
        {
            Drop(index, p.Session.LastError);
            return;
        }

        _pending.RemoveAt(index);
        SocketConnection connection;
        try
        {
            connection = SocketConnection.Create(p.Socket, _options, $"{Description} <- {p.Peer}");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Log.TlsRefused(Description, p.Peer, $"it left after its handshake ({e.Message})");
            p.Session.Dispose();
            p.Socket.Dispose();
            return;
        }

        connection.UseTls(p.Session);
        Log.TlsAccepted(Description, p.Peer, p.Session.Version);
        lock (_ready)
        {
            if (!IsDisposed && _ready.Count < MaxReady)
            {
                _ready.Enqueue(connection);
                Monitor.PulseAll(_ready);
                return;
            }
        }

        Log.TlsRefused(Description, p.Peer, $"{MaxReady} clients are already waiting to be accepted");
        connection.DisposeNow();
    }

    private void Drop(int index, string why)
    {
        Log.TlsRefused(Description, _pending[index].Peer, why);
        Remove(index);
    }

    private void Remove(int index)
    {
        Pending p = _pending[index];
        _pending.RemoveAt(index);
        try
        {
            p.Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        p.Socket.Dispose();
        p.Session.Dispose();
    }

    private static string Peer(Socket client)
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

    private IpcException Cancelled() => new(IpcStatus.Cancelled, $"the listener {Description} was closed while waiting for a client");

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both); // wakes the handshake thread's poll
        }
        catch (SocketException)
        {
        }

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

        _tls.Dispose();
    }

    private sealed class Pending(Socket socket, TlsSession session, string peer, long deadline)
    {
        public Socket Socket { get; } = socket;
        public TlsSession Session { get; } = session;
        public string Peer { get; } = peer;
        public long Deadline { get; } = deadline;
        public bool WantsWrite { get; set; }
    }
}
