using System.Net.Sockets;
using DapperIpc.Factory;
using DapperIpc.Transports;
using Xunit;

namespace DapperIpc.Tests;

public class TcpKeepAliveTests
{
    /// <summary>
    /// Without heartbeats a vanished remote host is found by tcp itself: both ends of every
    /// tcp connection carry short keepalive timers (and, on Linux, TCP_USER_TIMEOUT), read
    /// back from the sockets themselves.
    /// </summary>
    [Fact]
    public void Both_ends_of_a_tcp_connection_notice_a_dead_host_within_a_minute()
    {
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        using var client = TransportFactory.CreateConnection(ConnectedPair.ClientConfig(listener.LauncherArgs));
        using var accepted = listener.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
        foreach (ConnectionBase end in new[] { client, accepted! })
        {
            // A second Socket over the same descriptor, not owning it: only to read options.
            using var view = new Socket(new SafeSocketHandle(end.PollHandle, ownsHandle: false));
            Assert.Equal(1, (int)view.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
            int idle = (int)view.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!;
            int interval = (int)view.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval)!;
            int count = (int)view.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount)!;
            Assert.Equal((TcpKeepAlive.IdleSeconds, TcpKeepAlive.IntervalSeconds, TcpKeepAlive.ProbeCount), (idle, interval, count));
            Assert.True(idle + interval * count < 60, $"a dead host is noticed after {idle + interval * count} s");
            if (OperatingSystem.IsLinux())
            {
                byte[] value = new byte[4];
                view.GetRawSocketOption(6, 18, value); // IPPROTO_TCP, TCP_USER_TIMEOUT
                Assert.Equal(TcpKeepAlive.UserTimeoutMs, BitConverter.ToInt32(value));
            }
        }
    }
}
