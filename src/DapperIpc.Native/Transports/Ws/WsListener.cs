using System;
using System.Buffers;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DapperIpc.Diagnostics;
using DapperIpc.Transports.Tls;

namespace DapperIpc.Transports.Ws;

/// <summary>
/// The websocket listener: tcp, loopback by default, endpoint ws://host:port/. Clients'
/// opening handshakes are read on the listener's own thread
/// (<see cref="HandshakingListener{TPending}"/>: deadlines and bounds), each within 8 KiB,
/// so a client that dribbles its request or never finishes it holds up nobody: clients
/// whose request passes (WsHandshake) are queued for Accept in the order they passed.
/// Authentication, when required, is the handshake's token subprotocol.
/// wss: the same, each client's tls handshake stepped first in the same poll, then its
/// request read and answered inside tls.
/// </summary>
internal sealed class WsListener : HandshakingListener<WsListener.Pending>
{
    private readonly WsPolicy _policy;
    private readonly TlsContext? _tls;

    private WsListener(Socket socket, string host, int port, ConnectionOptions options, WsPolicy policy, TlsContext? tls)
        : base(socket, options, "websocket", "dapper-ipc ws handshakes")
    {
        _policy = policy;
        _tls = tls;
        string port_ = port.ToString(CultureInfo.InvariantCulture);
        LauncherArgs = tls is null
            ? ["--ipc", "ws", "--ipc-host", host, "--ipc-port", port_]
            : ["--ipc", "wss", "--ipc-host", host, "--ipc-port", port_, "--ipc-tls-fingerprint", tls.Fingerprint!];
        Description = $"{(tls is null ? "ws" : "wss")}://{UrlHost(host)}:{port_}/";
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description { get; }

    /// <summary>A ws listener, or wss with <paramref name="tls"/> (which it then owns).</summary>
    public static WsListener Create(string? host, int port, string? origins, ConnectionOptions options, TlsContext? tls = null)
    {
        host ??= "127.0.0.1";
        Socket socket = Bind(host, port, tls is null ? "ws" : "wss", warnOffLoopback: tls is null, owned: tls);
        var listener = new WsListener(socket, host, ((IPEndPoint)socket.LocalEndPoint!).Port, options,
            new WsPolicy(host, WsPolicy.ParseOrigins(origins), options.AuthToken), tls);
        listener.Start();
        return listener;
    }

    /// <summary>A host as it stands in a URL (an IPv6 literal in brackets).</summary>
    public static string UrlHost(string host) => host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;

    /// <summary>Public for fingerprint queries: the wss certificate's "sha256:..." or null for ws.</summary>
    public string? Fingerprint => _tls?.Fingerprint;

    protected override Pending? Begin(Socket client)
    {
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
                return null;
            }
        }

        return new Pending(client, Peer(client), HandshakeDeadline()) { Session = session };
    }

    /// <summary>Reads what a client sent; answers once its request head is whole. Returns the upgraded connection, or null.</summary>
    protected override SocketConnection? Step(Pending p, int index)
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
                Refuse(p, index, 431, "Request Header Fields Too Large", $"its request head is longer than {WsHandshake.MaxHeadSize} bytes");
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

            SocketConnection connection = SocketConnection.Create(p.Socket, Options, $"{Description} <- {p.Peer}");
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

    protected override void Expire(Pending p, int index)
        => Refuse(p, index, 408, "Request Timeout", $"its request was not whole within {HandshakeTimeoutMs} ms ({p.Length} bytes came)");

    private void Refuse(Pending p, int index, int status, string text, string reason)
    {
        string body = reason + "\n";
        Send(p, $"HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}");
        Log.WsRefused(Description, p.Peer, status, reason);
        Remove(index);
    }

    protected override void LogAbandoned(string who, string why) => Log.WsHandshakeAbandoned(Description, who, why);

    protected override void LogNoRoom(SocketConnection connection, Pending p)
        => Log.WsHandshakeAbandoned(Description, connection.Description, $"{MaxReady} upgraded clients are already waiting to be accepted");

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

    protected override void DisposeOwned() => _tls?.Dispose();

    internal sealed class Pending(Socket socket, string peer, long deadline) : HandshakePending(socket, peer, deadline)
    {
        public byte[]? Buffer { get; set; }
        public int Length { get; set; }
        public TlsSession? Session { get; set; } // wss
        public bool TlsDone { get; set; }

        public override void Close()
        {
            if (Buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = null;
            }

            base.Close();
            Session?.Dispose();
        }
    }
}
