using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using DapperIpc.Diagnostics;

namespace DapperIpc.Transports;

/// <summary>
/// The client side: connects to a listener, retrying every 50 ms (as the launcher does)
/// while nobody listens yet, until the timeout.
/// </summary>
internal static class SocketConnector
{
    private const int RetryDelayMs = 50;

    public static ConnectionBase ConnectUnix(string path, ConnectionOptions options, int timeoutMs, CancellationToken cancel)
    {
        UnixSocketPath.CheckLength(path);
        return Connect(new UnixDomainSocketEndPoint(path), AddressFamily.Unix, ProtocolType.Unspecified,
            "unix:" + path, options, timeoutMs, cancel);
    }

    /// <summary>The unix socket of a shm listener, then the shared memory it passes over it (Transports/Shm).</summary>
    public static ConnectionBase ConnectShm(string path, ConnectionOptions options, int timeoutMs, CancellationToken cancel)
    {
        UnixSocketPath.CheckLength(path);
        return Connect(new UnixDomainSocketEndPoint(path), AddressFamily.Unix, ProtocolType.Unspecified,
            "shm:" + path, options, timeoutMs, cancel, shm: true);
    }

    public static ConnectionBase ConnectTcp(string host, int port, ConnectionOptions options, int timeoutMs, CancellationToken cancel)
    {
        IPAddress address = TcpAddress.Resolve(host);
        return Connect(new IPEndPoint(address, port), address.AddressFamily, ProtocolType.Tcp,
            $"tcp:{host}:{port}", options, timeoutMs, cancel);
    }

    /// <summary>tcp to a websocket listener, then the opening handshake (Transports/Ws/WsConnector), the token offered as a subprotocol.</summary>
    public static ConnectionBase ConnectWs(string host, int port, ConnectionOptions options, int timeoutMs, CancellationToken cancel)
    {
        IPAddress address = TcpAddress.Resolve(host);
        string url = $"ws://{Ws.WsListener.UrlHost(host)}:{port}/";
        var connection = (SocketConnection)Connect(new IPEndPoint(address, port), address.AddressFamily, ProtocolType.Tcp,
            url, options with { AuthToken = null }, timeoutMs, cancel);
        try
        {
            Ws.WsConnector.Upgrade(connection, $"{Ws.WsListener.UrlHost(host)}:{port}", options.AuthToken, url);
            return connection;
        }
        catch
        {
            connection.DisposeNow();
            throw;
        }
    }

    /// <summary>
    /// tcp to a tls listener, the tls handshake (the pin or the trust store checked), then,
    /// inside tls, the token frame (tls) or the websocket upgrade with the token (wss).
    /// </summary>
    public static ConnectionBase ConnectTls(string host, int port, ConnectionOptions options, Tls.TlsContext tls,
        bool webSocket, int timeoutMs, CancellationToken cancel)
    {
        using (tls)
        {
            IPAddress address = TcpAddress.Resolve(host);
            string description = webSocket ? $"wss://{Ws.WsListener.UrlHost(host)}:{port}/" : $"tls:{host}:{port}";
            var connection = (SocketConnection)Connect(new IPEndPoint(address, port), address.AddressFamily, ProtocolType.Tcp,
                description, options with { AuthToken = null }, timeoutMs, cancel);
            try
            {
                connection.StartTlsClient(tls, host, description);
                if (webSocket)
                {
                    Ws.WsConnector.Upgrade(connection, $"{Ws.WsListener.UrlHost(host)}:{port}", options.AuthToken, description);
                }
                else if (options.AuthToken is not null)
                {
                    TokenHandshake.Present(connection, options.AuthToken);
                }

                return connection;
            }
            catch
            {
                connection.DisposeNow();
                throw;
            }
        }
    }

    private static ConnectionBase Connect(EndPoint endpoint, AddressFamily family, ProtocolType protocol,
        string description, ConnectionOptions options, int timeoutMs, CancellationToken cancel, bool shm = false)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            Socket socket;
            try
            {
                socket = new Socket(family, SocketType.Stream, protocol);
            }
            catch (SocketException e)
            {
                throw SocketErrors.ToIpc(e, $"connect to {description}", UnixPath(endpoint));
            }

            try
            {
                socket.Connect(endpoint);
                if (protocol == ProtocolType.Tcp)
                {
                    socket.NoDelay = true;
                }

                ConnectionBase connection = shm
                    ? Shm.ShmConnection.Connected(socket, options, description)
                    : SocketConnection.Create(socket, options, description);
                if (options.AuthToken is not null)
                {
                    // The first frame, before anything the host sends.
                    TokenHandshake.Present(connection, options.AuthToken);
                }

                Log.Connected(description);
                return connection;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                if (!IsRetryable(e.SocketErrorCode))
                {
                    throw SocketErrors.ToIpc(e, $"connect to {description}", UnixPath(endpoint));
                }

                TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
                if (timeoutMs < 0 || elapsed.TotalMilliseconds + RetryDelayMs > timeoutMs)
                {
                    throw new IpcException(IpcStatus.ConnectionRefused,
                        $"nobody is listening on {description} (gave up after {(int)elapsed.TotalMilliseconds} ms: {SocketErrors.Reason(e, UnixPath(endpoint))})", e);
                }

                Log.ConnectRetry(description, SocketErrors.Reason(e, UnixPath(endpoint)));
                if (cancel.WaitHandle.WaitOne(RetryDelayMs))
                {
                    cancel.ThrowIfCancellationRequested();
                }
            }
        }
    }

    // The path, for reasons that name it (SocketErrors.Reason); null for tcp.
    private static string? UnixPath(EndPoint endpoint) => (endpoint as UnixDomainSocketEndPoint)?.ToString();

    // Not there yet (no socket file, nobody listening, backlog full): worth another try.
    private static bool IsRetryable(SocketError error) => error is SocketError.ConnectionRefused
        or SocketError.AddressNotAvailable or SocketError.TryAgain or SocketError.WouldBlock
        or SocketError.TimedOut or SocketError.NoBufferSpaceAvailable or SocketError.SocketError;
}
