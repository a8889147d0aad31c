using System.Net;
using System.Net.Sockets;
using DapperIpc.Factory;

namespace DapperIpc.Tests;

public class TransportFactoryTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("auto")]
    [InlineData("AUTO")]
    public void Auto_resolves_to_unix_on_posix(string? name)
        => Assert.Equal(TransportKind.Unix, TransportFactory.ResolveTransport(name));

    [Theory]
    [InlineData("unix", TransportKind.Unix)]
    [InlineData("UNIX", TransportKind.Unix)]
    [InlineData("Tcp", TransportKind.Tcp)]
    [InlineData("pipe", TransportKind.Pipe)]
    public void Transport_names_are_case_insensitive(string name, TransportKind expected)
        => Assert.Equal(expected, TransportFactory.ResolveTransport(name));

    [Fact]
    public void An_unknown_transport_is_an_invalid_argument_naming_the_choices()
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.ResolveTransport("carrier-pigeon"));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("auto, unix, tcp or pipe", e.Message);
    }

    [Fact]
    public void Pipe_is_unsupported_on_posix_for_listeners_and_clients()
    {
        Assert.Equal(IpcStatus.Unsupported, Assert.Throws<IpcException>(
            () => TransportFactory.CreateListener(new TransportConfig { Transport = "pipe" })).Status);
        Assert.Equal(IpcStatus.Unsupported, Assert.Throws<IpcException>(
            () => TransportFactory.CreateConnection(new TransportConfig { Transport = "pipe", PipeName = "x" })).Status);
    }

    [Fact]
    public void Connecting_tcp_without_a_port_names_the_port()
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(new TransportConfig { Transport = "tcp" }));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("port", e.Message);
    }

    [Fact]
    public void Connecting_unix_without_a_path_names_the_path()
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(new TransportConfig { Transport = "unix" }));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("path", e.Message);
    }

    [Fact]
    public void A_tcp_listener_on_port_0_returns_the_resolved_port_in_the_launcher_args()
    {
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        var args = listener.LauncherArgs;
        Assert.Equal(["--ipc", "tcp", "--ipc-host", "127.0.0.1", "--ipc-port"], args.Take(5));
        int port = int.Parse(args[5]);
        Assert.NotEqual(0, port);

        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        raw.Connect(IPAddress.Loopback, port);
        Assert.True(raw.Connected);
    }

    [Fact]
    public void A_unix_listener_returns_its_absolute_path_in_the_launcher_args()
    {
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "unix" });
        var args = listener.LauncherArgs;
        Assert.Equal(["--ipc", "unix", "--ipc-path"], args.Take(3));
        Assert.True(Path.IsPathFullyQualified(args[3]));
        Assert.Equal(4, args.Count);
    }

    [Fact]
    public void An_explicit_tcp_port_that_is_taken_is_address_in_use()
    {
        using var first = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        int port = int.Parse(first.LauncherArgs[5]);
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", Port = port }));
        Assert.Equal(IpcStatus.AddressInUse, e.Status);
        Assert.Contains(port.ToString(), e.Message);
    }

    [Fact]
    public void Connecting_to_nobody_is_refused_after_the_connect_timeout()
    {
        using var probe = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        int port = int.Parse(probe.LauncherArgs[5]);
        probe.Dispose();
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(
            new TransportConfig { Transport = "tcp", Port = port, ConnectTimeoutMs = 200 }));
        Assert.Equal(IpcStatus.ConnectionRefused, e.Status);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(uint.MaxValue)]
    public void A_maximum_frame_size_outside_the_supported_range_is_rejected(uint max)
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", MaxFrameSize = max }));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
    }
}
