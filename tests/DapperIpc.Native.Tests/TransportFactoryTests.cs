using DapperIpc.Factory;

namespace DapperIpc.Tests;

/// <summary>Which transport a config resolves to, and the arguments the factory refuses.</summary>
public class TransportFactoryTests
{
    [Fact]
    public void The_default_transport_is_unix_on_posix_and_pipe_on_windows()
        => Assert.Equal(OperatingSystem.IsWindows() ? TransportKind.Pipe : TransportKind.Unix, TransportFactory.GetDefaultTransport());

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("auto")]
    [InlineData("AUTO")]
    public void Auto_or_no_name_resolves_to_the_platform_default(string? name)
        => Assert.Equal(TransportFactory.GetDefaultTransport(), TransportFactory.ResolveTransport(name));

    [Theory]
    [InlineData("unix", TransportKind.Unix)]
    [InlineData("UNIX", TransportKind.Unix)]
    [InlineData("tcp", TransportKind.Tcp)]
    [InlineData("Tcp", TransportKind.Tcp)]
    [InlineData("pipe", TransportKind.Pipe)]
    [InlineData("PiPe", TransportKind.Pipe)]
    public void Transport_names_are_case_insensitive(string name, TransportKind expected)
        => Assert.Equal(expected, TransportFactory.ResolveTransport(name));

    [Theory]
    [InlineData("carrier-pigeon")]
    [InlineData("udp")]
    [InlineData("unix2")]
    public void An_unknown_transport_is_an_invalid_argument_naming_the_choices(string name)
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.ResolveTransport(name));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains(name, e.Message);
        Assert.Contains("auto, unix, tcp, pipe, ws, tls, wss, shm, stdio", e.Message);

        Assert.Equal(IpcStatus.InvalidArgument, Assert.Throws<IpcException>(
            () => TransportFactory.CreateListener(new TransportConfig { Transport = name })).Status);
    }

    [Fact]
    public void Pipe_is_unsupported_on_posix_for_listeners_and_clients()
    {
        var listen = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(new TransportConfig { Transport = "pipe" }));
        Assert.Equal(IpcStatus.Unsupported, listen.Status);
        Assert.Contains("pipe", listen.Message);
        Assert.Equal(IpcStatus.Unsupported, Assert.Throws<IpcException>(
            () => TransportFactory.CreateConnection(new TransportConfig { Transport = "pipe", PipeName = "x" })).Status);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Connecting_tcp_without_a_port_is_an_invalid_argument_naming_the_port(int port)
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(new TransportConfig { Transport = "tcp", Port = port }));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("port", e.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Connecting_unix_without_a_path_is_an_invalid_argument_naming_the_path(string? path)
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(new TransportConfig { Transport = "unix", Path = path }));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("path", e.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(65536)]
    public void A_port_outside_0_to_65535_is_an_invalid_argument(int port)
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", Port = port }));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("port", e.Message);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(uint.MaxValue)]
    [InlineData((uint)int.MaxValue)]
    public void A_maximum_frame_size_outside_the_supported_range_is_rejected(uint max)
    {
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", MaxFrameSize = max }));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("max_frame_size", e.Message);
    }
}
