using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DapperIpc.Diagnostics;

namespace DapperIpc.Transports.Tls;

/// <summary>
/// The tls listener: tcp (loopback by default) whose clients' tls handshakes are stepped on
/// the listener's own thread (<see cref="HandshakingListener{TPending}"/>: deadlines and
/// bounds). Clients whose handshake is done are queued for Accept, where the auth token
/// (inside tls) is checked as on tcp. The launcher arguments carry the certificate's fingerprint.
/// </summary>
internal sealed class TlsListener : HandshakingListener<TlsListener.Pending>
{
    private readonly TlsContext _tls;

    private TlsListener(Socket socket, string host, int port, ConnectionOptions options, TlsContext tls)
        : base(socket, options, "tls", "dapper-ipc tls handshakes")
    {
        _tls = tls;
        string port_ = port.ToString(CultureInfo.InvariantCulture);
        LauncherArgs = ["--ipc", "tls", "--ipc-host", host, "--ipc-port", port_, "--ipc-tls-fingerprint", tls.Fingerprint!];
        Description = $"tls:{host}:{port_}";
        Port = port;
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description { get; }

    public int Port { get; }

    /// <summary>"sha256:" and 64 hex digits of the listener's certificate.</summary>
    public string Fingerprint => _tls.Fingerprint!;

    public static TlsListener Create(string? host, int port, TlsContext tls, ConnectionOptions options)
    {
        host ??= "127.0.0.1";
        Socket socket = Bind(host, port, "tls", warnOffLoopback: false, owned: tls);
        var listener = new TlsListener(socket, host, ((IPEndPoint)socket.LocalEndPoint!).Port, options, tls);
        listener.Start();
        return listener;
    }

    public override ConnectionBase? Accept(int timeoutMs)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            int left = timeoutMs < 0 ? -1 : Math.Max(0, timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            ConnectionBase? connection = TakeReady(left);
            if (connection is null || Authenticated(connection))
            {
                return connection;
            }
        }
    }

    internal override string? AuthRefusal(ConnectionBase connection, int timeoutMs)
        => TokenHandshake.Refusal(connection, Options.AuthToken, timeoutMs);

    protected override Pending? Begin(Socket client)
    {
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
            return null;
        }

        return new Pending(client, session, peer, HandshakeDeadline());
    }

    protected override SocketConnection? Step(Pending p, int index)
    {
        int r = TlsShim.Handshake(p.Session.Handle);
        if (r is 1 or 2)
        {
            p.WantsWrite = r == 2;
            return null;
        }

        if (r != 0)
        {
            Drop(index, p.Session.LastError);
            return null;
        }

        Remove(index, dispose: false);
        SocketConnection connection;
        try
        {
            connection = SocketConnection.Create(p.Socket, Options, $"{Description} <- {p.Peer}");
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Log.TlsRefused(Description, p.Peer, $"it left after its handshake ({e.Message})");
            p.Session.Dispose();
            p.Socket.Dispose();
            return null;
        }

        connection.UseTls(p.Session);
        Log.TlsAccepted(Description, p.Peer, p.Session.Version);
        return connection;
    }

    protected override void Expire(Pending p, int index) => Drop(index, $"its handshake was not done within {HandshakeTimeoutMs} ms");

    protected override void LogAbandoned(string who, string why) => Log.TlsRefused(Description, who, why);

    protected override void LogNoRoom(SocketConnection connection, Pending p)
        => Log.TlsRefused(Description, p.Peer, $"{MaxReady} clients are already waiting to be accepted");

    protected override void DisposeOwned() => _tls.Dispose();

    internal sealed class Pending(Socket socket, TlsSession session, string peer, long deadline)
        : HandshakePending(socket, peer, deadline)
    {
        public TlsSession Session { get; } = session;

        public override void Close()
        {
            base.Close();
            Session.Dispose();
        }
    }
}
