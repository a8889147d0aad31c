using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DapperIpc.Diagnostics;

namespace DapperIpc.Transports;

/// <summary>
/// A tcp listener, loopback by default, on an OS-assigned port unless one is given;
/// the launcher arguments carry the resolved port.
/// </summary>
internal sealed class TcpSocketListener : SocketListener
{
    private const int Backlog = 16;

    private readonly string _host;
    private readonly int _port;

    private TcpSocketListener(Socket socket, string host, int port, ConnectionOptions options) : base(socket, options)
    {
        _host = host;
        _port = port;
        LauncherArgs = ["--ipc", "tcp", "--ipc-host", host, "--ipc-port", port.ToString(CultureInfo.InvariantCulture)];
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description => $"tcp:{_host}:{_port}";

    public int Port => _port;

    public static TcpSocketListener Create(string? host, int port, ConnectionOptions options)
    {
        host ??= "127.0.0.1";
        Socket socket = Bind(host, port, "tcp", Backlog);
        var listener = new TcpSocketListener(socket, host, ((IPEndPoint)socket.LocalEndPoint!).Port, options);
        Log.Listening(listener.Description);
        return listener;
    }

    /// <summary>A listening tcp socket on <paramref name="host"/>:<paramref name="port"/> (0: ephemeral); a non-loopback address logs a warning (not for tls, which is encrypted and authenticated). Shared with the websocket and tls listeners.</summary>
    internal static Socket Bind(string host, int port, string transport, int backlog, bool warnOffLoopback = true)
    {
        IPAddress address = TcpAddress.Resolve(host);
        if (warnOffLoopback && !IPAddress.IsLoopback(address))
        {
            Log.NonLoopbackBind(host);
        }

        Socket socket;
        try
        {
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, $"creating a {transport} socket for {host}:{port}");
        }

        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            if (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new IpcException(IpcStatus.AddressInUse, $"{transport} port {port} on {host} is already in use", e);
            }

            throw SocketErrors.ToIpc(e, $"binding {transport} {host}:{port}");
        }
    }

    protected override SocketConnection OnAccepted(Socket client)
    {
        // Frames are written whole; Nagle would only hold a small one back.
        client.NoDelay = true;
        return SocketConnection.Create(client, Options, $"{Description} <- {client.RemoteEndPoint}");
    }
}
