using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Transports.Tls;

namespace DapperIpc.Transports.Ws;

/// <summary>
/// The websocket listener: tcp, loopback by default, endpoint ws://host:port/. Clients'
/// opening handshakes are read side by side on the listener's own thread (non-blocking
/// sockets, one poll over all of them), each within <see cref="HandshakeTimeoutMs"/> and
/// 8 KiB, so a client that dribbles its request or never finishes it holds up nobody:
/// clients whose request passes (WsHandshake) are queued for Accept in the order they
/// passed. The thread runs from creation to Dispose, as a tcp backlog does. At most
/// <see cref="MaxPending"/> handshakes wait at once (the oldest is dropped for a new
/// one), so memory stays bounded whatever a flood of half-open connections does.
/// Authentication, when required, is the handshake's token subprotocol.
/// wss: the same, each client's tls handshake stepped first in the same poll, then its
/// request read and answered inside tls.
/// </summary>
internal sealed class WsListener : ListenerBase
{
    public const int HandshakeTimeoutMs = TokenHandshake.ReadTimeoutMs;
    public const int MaxPending = 1024;
    private const int Backlog = 512;

    private readonly Socket _socket;
    private readonly ConnectionOptions _options;
    private readonly WsPolicy _policy;
    private readonly TlsContext? _tls;
    private readonly List<Pending> _pending = new();
    private readonly Queue<SocketConnection> _upgraded = new();
    private readonly Thread _thread;
    private IpcException? _failure;
    private int _disposed;

    /// <summary>Upgraded clients that may wait for the host to accept them.</summary>
    public const int MaxUpgraded = 16;

    private WsListener(Socket socket, string host, int port, ConnectionOptions options, WsPolicy policy, TlsContext? tls)
    {
        _socket = socket;
        _options = options;
        _policy = policy;
        _tls = tls;
        string port_ = port.ToString(CultureInfo.InvariantCulture);
        LauncherArgs = tls is null
            ? ["--ipc", "ws", "--ipc-host", host, "--ipc-port", port_]
            : ["--ipc", "wss", "--ipc-host", host, "--ipc-port", port_, "--ipc-tls-fingerprint", tls.Fingerprint!];
        Description = $"{(tls is null ? "ws" : "wss")}://{UrlHost(host)}:{port_}/";
        _thread = new Thread(HandshakeLoop) { IsBackground = true, Name = "dapper-ipc ws handshakes" };
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description { get; }

    public override string? AuthToken => _options.AuthToken;

    /// <summary>A ws listener, or wss with <paramref name="tls"/> (which it then owns).</summary>
    public static WsListener Create(string? host, int port, string? origins, ConnectionOptions options, TlsContext? tls = null)
    {
        host ??= "127.0.0.1";
        Socket socket;
        try
        {
            socket = TcpSocketListener.Bind(host, port, tls is null ? "ws" : "wss", Backlog, warnOffLoopback: tls is null);
        }
        catch
        {
            tls?.Dispose();
            throw;
        }

        socket.Blocking = false;
        var listener = new WsListener(socket, host, ((IPEndPoint)socket.LocalEndPoint!).Port, options,
            new WsPolicy(host, WsPolicy.ParseOrigins(origins), options.AuthToken), tls);
        listener._thread.Start();
        Log.Listening(listener.Description);
        return listener;
    }

    /// <summary>A host as it stands in a URL (an IPv6 literal in brackets).</summary>
    public static string UrlHost(string host) => host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public override ConnectionBase? Accept(int timeoutMs) => TakeUpgraded(timeoutMs);

    internal override ConnectionBase? AcceptNext(int timeoutMs) => TakeUpgraded(timeoutMs);

    /// <summary>The next client whose upgrade was answered, waiting at most <paramref name="timeoutMs"/> (negative: no limit); null on timeout.</summary>
    private ConnectionBase? TakeUpgraded(int timeoutMs)
    {
        long start = Stopwatch.GetTimestamp();
        lock (_upgraded)
        {
            while (true)
            {
                if (IsDisposed)
                {
                    throw Cancelled();
                }

                if (_upgraded.Count > 0)
                {
                    return _upgraded.Dequeue();
                }

                if (_failure is not null)
                {
                    throw _failure;
                }

                if (timeoutMs < 0)
                {
                    Monitor.Wait(_upgraded);
                    continue;
                }

                int left = timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (left <= 0 || !Monitor.Wait(_upgraded, left) && _upgraded.Count == 0 && !IsDisposed)
                {
                    return null;
                }
            }
        }
    }

    /// <summary>Public for fingerprint queries: the wss certificate's "sha256:..." or null for ws.</summary>
    public string? Fingerprint => _tls?.Fingerprint;

    /// <summary>
    /// The handshake thread: accepts clients and reads their requests side by side until the
    /// listener is disposed, queueing each upgraded connection for Accept. It runs from the
    /// listener's creation, as a tcp listener's backlog does, so a client's connect succeeds
    /// before the host accepts. At most <see cref="MaxUpgraded"/> wait to be taken; beyond
    /// that a newly upgraded client is closed again, with a log line.
    /// </summary>
    private void HandshakeLoop()
    {
        var ready = new List<Socket>();
        var writable = new List<Socket>();
        try
        {
            while (!IsDisposed)
            {
                long now = Stopwatch.GetTimestamp();
                ExpireHandshakes(now);
                long waitMs = long.MaxValue;
                foreach (Pending p in _pending)
                {
                    waitMs = Math.Min(waitMs, Math.Max(0, (p.Deadline - now) * 1000 / Stopwatch.Frequency + 1));
                }

                ready.Clear();
                writable.Clear();
                ready.Add(_socket);
                foreach (Pending p in _pending)
                {
                    (p.WantsWrite ? writable : ready).Add(p.Socket);
                }

                Socket.Select(ready, writable.Count > 0 ? writable : null, null, waitMs >= int.MaxValue / 1000 ? -1 : (int)waitMs * 1000);
                if (IsDisposed)
                {
                    break;
                }

                ready.AddRange(writable);

                foreach (Socket s in ready)
                {
                    if (s == _socket)
                    {
                        AcceptWaiting();
                        continue;
                    }

                    int index = _pending.FindIndex(p => p.Socket == s);
                    if (index >= 0)
                    {
                        SocketConnection? upgraded = Advance(_pending[index], index);
                        if (upgraded is not null)
                        {
                            Hand(upgraded);
                        }
                    }
                }
            }
        }
        catch (Exception e) when (!IsDisposed)
        {
            lock (_upgraded)
            {
                _failure = e as IpcException ?? new IpcException(IpcStatus.Io, $"the websocket listener {Description} failed: {e.Message}", e);
                Monitor.PulseAll(_upgraded);
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

    private void Hand(SocketConnection connection)
    {
        lock (_upgraded)
        {
            if (!IsDisposed && _upgraded.Count < MaxUpgraded)
            {
                _upgraded.Enqueue(connection);
                Monitor.PulseAll(_upgraded);
                return;
            }
        }

        Log.WsHandshakeAbandoned(Description, connection.Description, $"{MaxUpgraded} upgraded clients are already waiting to be accepted");
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

            client.Blocking = false;
            client.NoDelay = true;
            TlsSession? session = null;
            if (_tls is not null)
            {
                try
                {
                    session = _tls.NewSession((int)client.SafeHandle.DangerousGetHandle(), null);
                }
                catch (IpcException e)
                {
                    Log.TlsRefused(Description, Peer(client), e.Message);
                    client.Dispose();
                    continue;
                }
            }

            _pending.Add(new Pending(client, Peer(client), Stopwatch.GetTimestamp() + (long)HandshakeTimeoutMs * Stopwatch.Frequency / 1000) { Session = session });
        }
    }

    /// <summary>Reads what a client sent; answers once its request head is whole. Returns the upgraded connection, or null.</summary>
    private SocketConnection? Advance(Pending p, int index)
    {
        if (p.Session is not null && !p.TlsDone)
        {
            int step = TlsShim.Handshake(p.Session.Handle);
            p.WantsWrite = step == 2;
            if (step < 0)
            {
                Log.TlsRefused(Description, p.Peer, p.Session.LastError);
                Remove(index);
                return null;
            }

            if (step != 0)
            {
                return null;
            }

            p.TlsDone = true; // the request may have come with the handshake's end: read on
        }

        p.Buffer ??= ArrayPool<byte>.Shared.Rent(WsHandshake.MaxHeadSize);
        int n;
        try
        {
            n = p.Session is null
                ? p.Socket.Receive(p.Buffer.AsSpan(p.Length, WsHandshake.MaxHeadSize - p.Length), SocketFlags.None)
                : TlsReceiveNow(p);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock)
        {
            return null;
        }
        catch (SocketException e)
        {
            Drop(index, $"the connection failed ({e.SocketErrorCode})");
            return null;
        }

        if (n == 0)
        {
            Drop(index, $"it closed the connection after {p.Length} bytes of its request");
            return null;
        }

        p.Length += n;
        int head = WsHandshake.HeadLength(p.Buffer.AsSpan(0, p.Length));
        if (head == 0)
        {
            if (p.Length == WsHandshake.MaxHeadSize)
            {
                Refuse(index, 431, "Request Header Fields Too Large", $"its request head is longer than {WsHandshake.MaxHeadSize} bytes");
            }

            return null;
        }

        WsHandshakeResult answer = WsHandshake.Answer(p.Buffer.AsSpan(0, head), _policy);
        if (!answer.Accepted)
        {
            Send(p, answer.Response);
            Log.WsRefused(Description, p.Peer, answer.Status, answer.Refusal!);
            Remove(index);
            return null;
        }

        Remove(index, dispose: false);
        try
        {
            if (p.Session is null)
            {
                p.Socket.Blocking = true;
                if (!OperatingSystem.IsWindows())
                {
                    // .NET may keep the descriptor non-blocking under a blocking Socket; the
                    // connection's own recv and sendmsg must block.
                    _ = Platform.SocketShim.SetBlocking((int)p.Socket.SafeHandle.DangerousGetHandle());
                }
            }

            if (!Send(p, answer.Response))
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }

            SocketConnection connection = SocketConnection.Create(p.Socket, _options, $"{Description} <- {p.Peer}");
            if (p.Session is not null)
            {
                connection.UseTls(p.Session); // the tls session (non-blocking descriptor) waits in the shim
                p.Session = null;
            }

            connection.UseWebSocket(isClient: false, p.Buffer.AsSpan(head, p.Length - head));
            Log.WsAccepted(Description, p.Peer, answer.Origin);
            return connection;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Log.WsHandshakeAbandoned(Description, p.Peer, "it left before the upgrade was answered");
            p.Socket.Dispose();
            p.Session?.Dispose();
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(p.Buffer);
            p.Buffer = null;
        }
    }

    private void ExpireHandshakes(long now)
    {
        for (int i = _pending.Count - 1; i >= 0; i--)
        {
            if (_pending[i].Deadline <= now)
            {
                Refuse(i, 408, "Request Timeout", $"its request was not whole within {HandshakeTimeoutMs} ms ({_pending[i].Length} bytes came)");
            }
        }
    }

    private void Refuse(int index, int status, string text, string reason)
    {
        Pending p = _pending[index];
        string body = reason + "\n";
        Send(p, $"HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");
        Log.WsRefused(Description, p.Peer, status, reason);
        Remove(index);
    }

    private void Drop(int index, string why)
    {
        Log.WsHandshakeAbandoned(Description, _pending[index].Peer, why);
        Remove(index);
    }

    private void Remove(int index, bool dispose = true)
    {
        Pending p = _pending[index];
        _pending.RemoveAt(index);
        if (dispose)
        {
            if (p.Buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(p.Buffer);
                p.Buffer = null;
            }

            try
            {
                p.Socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }

            p.Socket.Dispose();
            p.Session?.Dispose();
        }
    }

    /// <summary>How long an answer inside tls may wait for room (a record must go whole).</summary>
    private const int TlsAnswerWaitMs = 100;

    /// <summary>Sends a short answer without waiting (a client that does not read gets what fits); false when nothing could go.</summary>
    private static unsafe bool Send(Pending p, string response)
    {
        try
        {
            byte[] bytes = Encoding.UTF8.GetBytes(response);
            if (p.Session is not null)
            {
                if (!p.TlsDone)
                {
                    return false;
                }

                fixed (byte* b = bytes)
                {
                    var iov = new Platform.SocketShim.IoVec { Base = b, Length = (nuint)bytes.Length };
                    long sent;
                    int cut;
                    return TlsShim.WriteV(p.Session.Handle, &iov, 1, TlsAnswerWaitMs, &sent, &cut) == 0;
                }
            }

            return p.Socket.Send(bytes, SocketFlags.None) == bytes.Length;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>What the client's tls session holds now, without waiting: bytes, 0 at its end; WouldBlock as a SocketException.</summary>
    private static unsafe int TlsReceiveNow(Pending p)
    {
        fixed (byte* b = p.Buffer!.AsSpan(p.Length))
        {
            nint n = TlsShim.Read(p.Session!.Handle, b, (nuint)(WsHandshake.MaxHeadSize - p.Length), 0);
            if (n >= 0)
            {
                return (int)n;
            }

            throw new SocketException((int)(n == (int)Platform.ErrnoClass.WouldBlock ? SocketError.WouldBlock : SocketError.ConnectionReset));
        }
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
            // Wakes the handshake thread's poll before anything is released under it.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }

        _socket.Dispose();
        lock (_upgraded)
        {
            while (_upgraded.Count > 0)
            {
                _upgraded.Dequeue().DisposeNow();
            }

            Monitor.PulseAll(_upgraded);
        }

        _tls?.Dispose();
    }

    private sealed class Pending(Socket socket, string peer, long deadline)
    {
        public Socket Socket { get; } = socket;
        public string Peer { get; } = peer;
        public long Deadline { get; } = deadline;
        public byte[]? Buffer { get; set; }
        public int Length { get; set; }
        public TlsSession? Session { get; set; } // wss
        public bool TlsDone { get; set; }
        public bool WantsWrite { get; set; }
    }
}
