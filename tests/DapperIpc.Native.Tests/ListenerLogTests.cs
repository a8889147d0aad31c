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
    public void A_caller_given_unix_path_that_cannot_be_bound_is_an_error_not_a_tcp_listener()
    {
        // The tcp fallback is for a platform without unix sockets, or the library's own
        // private socket; a path the caller asked for is never silently replaced.
        using var capture = new LogCapture();
        string missingDir = Path.Combine(Path.GetTempPath(), "dapper-no-such-dir-" + Guid.NewGuid().ToString("N")[..8]);
        string path = Path.Combine(missingDir, "ipc.sock");
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(new TransportConfig { Transport = "unix", Path = path }));

        Assert.Equal(IpcStatus.Io, e.Status);
        Assert.Contains(path, e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.DoesNotContain(capture.Entries, entry => entry.Message.Contains("falling back to tcp"));
        Assert.False(Directory.Exists(missingDir));
    }
}
