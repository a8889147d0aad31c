using DapperIpc.Diagnostics;
using DapperIpc.Factory;

namespace DapperIpc.Tests;

/// <summary>What a listener must say through the log: security warnings and fallbacks.</summary>
[Collection("Log")]
public class ListenerLogTests
{
    [Fact]
    public void Binding_a_non_loopback_address_logs_a_security_warning()
    {
        const string host = "0.0.0.0";
        using var capture = new LogCapture();
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", Host = host });
        Assert.Equal(["--ipc", "tcp", "--ipc-host", host, "--ipc-port"], listener.LauncherArgs.Take(5));
        Assert.Contains(capture.Entries, e => e.Level == LogLevel.Warning
            && e.Message.Contains("security", StringComparison.OrdinalIgnoreCase) && e.Message.Contains(host));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public void A_loopback_bind_logs_no_warning(string? host)
    {
        using var capture = new LogCapture();
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", Host = host });
        Assert.Contains(capture.Entries, e => e.Message.Contains("listening on"));
        Assert.DoesNotContain(capture.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public void A_unix_listener_that_cannot_be_set_up_falls_back_to_tcp_and_says_so()
    {
        using var capture = new LogCapture();
        string missingDir = Path.Combine(Path.GetTempPath(), "dapper-no-such-dir-" + Guid.NewGuid().ToString("N")[..8]);
        string path = Path.Combine(missingDir, "ipc.sock");
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "unix", Path = path });

        var args = listener.LauncherArgs;
        Assert.Equal(["--ipc", "tcp", "--ipc-host", "127.0.0.1", "--ipc-port"], args.Take(5));
        Assert.NotEqual(0, int.Parse(args[5]));
        Assert.Contains(capture.Entries, e => e.Level == LogLevel.Warning
            && e.Message.Contains("falling back to tcp") && e.Message.Contains(path));
        Assert.False(Directory.Exists(missingDir));

        // The fallback listener is a working one.
        using var client = TransportFactory.CreateConnection(ConnectedPair.ClientConfig(args));
        using var accepted = listener.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
    }
}
