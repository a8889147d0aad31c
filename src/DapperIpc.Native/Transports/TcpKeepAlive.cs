using System.Net.Sockets;
using DapperIpc.Diagnostics;

namespace DapperIpc.Transports;

/// <summary>
/// Short tcp keepalive timers on every tcp connection, so a remote host that vanished
/// (power loss, a cable, a dropped VPN) is noticed in under a minute rather than the
/// system's defaults (two hours of idle before the first probe; ~15 minutes of
/// retransmissions for data in flight). Probes carry no payload: the peer's stream
/// sees no byte of difference.
/// </summary>
internal static class TcpKeepAlive
{
    /// <summary>Idle seconds before the first probe.</summary>
    public const int IdleSeconds = 15;

    /// <summary>Seconds between probes.</summary>
    public const int IntervalSeconds = 5;

    /// <summary>Unanswered probes before the connection is dropped: 15 + 6 x 5 = 45 s.</summary>
    public const int ProbeCount = 6;

    /// <summary>Linux TCP_USER_TIMEOUT: data unacknowledged this long drops the connection (keepalive does not probe while data is in flight).</summary>
    public const int UserTimeoutMs = 45_000;

    private const int TcpUserTimeout = 18; // linux/tcp.h

    public static void Configure(Socket socket)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, IdleSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, IntervalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, ProbeCount);
            if (System.OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption((int)SocketOptionLevel.Tcp, TcpUserTimeout, System.BitConverter.GetBytes(UserTimeoutMs));
            }
        }
        catch (SocketException e)
        {
            // Older systems lack some of these: the connection works, it just notices a dead host later.
            Log.KeepAliveIncomplete(e.Message);
        }
    }
}
