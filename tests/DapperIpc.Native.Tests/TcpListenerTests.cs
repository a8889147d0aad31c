using System.Net;
using System.Net.Sockets;
using DapperIpc.Factory;

namespace DapperIpc.Tests;

/// <summary>The tcp listener: where it binds, what it tells the launcher, and what it refuses.</summary>
public class TcpListenerTests
{
    [Fact]
    public void Port_0_gives_exactly_the_launcher_args_with_the_real_bound_port()
    {
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", Port = 0 });
        var args = listener.LauncherArgs;
        Assert.Equal(6, args.Count);
        Assert.Equal(["--ipc", "tcp", "--ipc-host", "127.0.0.1", "--ipc-port"], args.Take(5));
        Assert.Matches("^[1-9][0-9]*$", args[5]);
        int port = int.Parse(args[5]);
        Assert.InRange(port, 1, 65535);

        // The port in the arguments is the one the listener is bound to: a raw client reaches it.
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        raw.Connect(IPAddress.Loopback, port);
        using var accepted = listener.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
    }

    [Fact]
    public void An_explicit_tcp_port_that_is_taken_is_address_in_use()
    {
        using var first = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        int port = int.Parse(first.LauncherArgs[5]);
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", Port = port }));
        Assert.Equal(IpcStatus.AddressInUse, e.Status);
        Assert.Contains(port.ToString(), e.Message);

        // The first listener is unharmed.
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        raw.Connect(IPAddress.Loopback, port);
        using var accepted = first.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
    }

    [Fact]
    public void Connecting_to_a_port_nobody_listens_on_is_refused_after_the_connect_timeout()
    {
        int port = ClosedPort.Take();

        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(
            new TransportConfig { Transport = "tcp", Port = port, ConnectTimeoutMs = 200 }));
        Assert.Equal(IpcStatus.ConnectionRefused, e.Status);
        Assert.Contains(port.ToString(), e.Message);
    }

    [Fact]
    public void A_negative_connect_timeout_tries_once_and_is_refused()
    {
        int port = ClosedPort.Take();

        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(
            new TransportConfig { Transport = "tcp", Port = port, ConnectTimeoutMs = -1 }));
        Assert.Equal(IpcStatus.ConnectionRefused, e.Status);
    }

    [Fact]
    public void Accept_with_no_client_returns_nothing_after_its_timeout_and_a_later_client_is_accepted()
    {
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        Assert.Null(listener.Accept(20));

        using var client = TransportFactory.CreateConnection(ConnectedPair.ClientConfig(listener.LauncherArgs));
        using var accepted = listener.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
    }

    [Fact]
    public void Disposing_the_listener_cancels_a_blocked_accept()
    {
        var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        using var accepting = new ManualResetEventSlim();
        var waiting = Task.Run(() =>
        {
            accepting.Set();
            return Assert.Throws<IpcException>(() => listener.Accept(-1));
        });
        Assert.True(accepting.Wait(Wait.Long));
        listener.Dispose();
        Assert.True(waiting.Wait(Wait.Long), "accept stayed blocked after dispose");
        Assert.Equal(IpcStatus.Cancelled, waiting.Result.Status);
    }
}
