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
        IPAddress address = TcpAddress.Resolve(host);
        if (!IPAddress.IsLoopback(address))
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
            throw SocketErrors.ToIpc(e, $"creating a tcp socket for {host}:{port}");
        }

        try
        {
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(Backlog);
            int bound = ((IPEndPoint)socket.LocalEndPoint!).Port;
            var listener = new TcpSocketListener(socket, host, bound, options);
            Log.Listening(listener.Description);
            return listener;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            if (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new IpcException(IpcStatus.AddressInUse, $"tcp port {port} on {host} is already in use", e);
            }

            throw SocketErrors.ToIpc(e, $"binding tcp {host}:{port}");
        }
    }

    protected override SocketConnection OnAccepted(Socket client)
    {
        // Frames are written whole; Nagle would only hold a small one back.
        client.NoDelay = true;
        return SocketConnection.Create(client, Options, $"{Description} <- {client.RemoteEndPoint}");
    }
}
