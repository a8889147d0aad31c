using System.Net.Sockets;
using DapperIpc.Factory;

namespace DapperIpc.Tests;

public sealed class UnixListenerTests : IDisposable
{
    // A scratch directory per test for caller-given paths; removed afterwards.
    private readonly string _dir = Directory.CreateTempSubdirectory("dapper-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TransportConfig At(string path) => new() { Transport = "unix", Path = path };

    [Fact]
    public void The_default_socket_is_0600_inside_a_fresh_0700_directory_and_cleanup_removes_both()
    {
        string path;
        using (var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "unix" }))
        {
            path = listener.LauncherArgs[3];
            string dir = Path.GetDirectoryName(path)!;
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.StartsWith("dapper-", Path.GetFileName(dir));
        }

        Assert.False(File.Exists(path));
        Assert.False(Directory.Exists(Path.GetDirectoryName(path)));
    }

    [Fact]
    public void Two_default_listeners_get_different_random_directories()
    {
        using var a = TransportFactory.CreateListener(new TransportConfig { Transport = "unix" });
        using var b = TransportFactory.CreateListener(new TransportConfig { Transport = "unix" });
        Assert.NotEqual(Path.GetDirectoryName(a.LauncherArgs[3]), Path.GetDirectoryName(b.LauncherArgs[3]));
    }

    [Fact]
    public void A_caller_path_too_long_for_sun_path_is_an_error_and_nothing_is_created()
    {
        string path = Path.Combine(_dir, new string('s', 120) + ".sock");
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.PathTooLong, e.Status);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void A_regular_file_at_the_caller_path_is_left_alone()
    {
        string path = Path.Combine(_dir, "file.sock");
        File.WriteAllText(path, "precious");
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.PathExists, e.Status);
        Assert.Equal("precious", File.ReadAllText(path));
    }

    [Fact]
    public void A_symlink_at_the_caller_path_is_never_followed_or_replaced()
    {
        string target = Path.Combine(_dir, "target");
        File.WriteAllText(target, "precious");
        string path = Path.Combine(_dir, "link.sock");
        File.CreateSymbolicLink(path, target);
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.PathExists, e.Status);
        Assert.NotNull(new FileInfo(path).LinkTarget);
        Assert.Equal("precious", File.ReadAllText(target));
    }

    [Fact]
    public void A_stale_socket_at_the_caller_path_is_replaced()
    {
        // .NET unlinks the sockets it binds when they are disposed; a listener that died
        // leaves its file, as a process that exits without closing does.
        string path = Path.Combine(_dir, "stale.sock");
        using (var died = System.Diagnostics.Process.Start("python3",
            ["-c", "import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()", path]))
        {
            Assert.True(died.WaitForExit(Wait.Long));
            Assert.Equal(0, died.ExitCode);
        }

        Assert.True(File.Exists(path));
        using var listener = TransportFactory.CreateListener(At(path));
        using var client = TransportFactory.CreateConnection(At(path));
        Assert.Equal(path, listener.LauncherArgs[3]);
    }

    [Fact]
    public void A_caller_path_with_a_live_listener_is_never_taken_over()
    {
        string path = Path.Combine(_dir, "live.sock");
        using var first = TransportFactory.CreateListener(At(path));
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.AddressInUse, e.Status);
        using var client = TransportFactory.CreateConnection(At(path));
        Assert.NotNull(first.Accept((int)Wait.Long.TotalMilliseconds));
    }

    [Fact]
    public void A_client_that_starts_before_the_listener_connects_thanks_to_retries()
    {
        string path = Path.Combine(_dir, "late.sock");
        var connecting = Task.Run(() => TransportFactory.CreateConnection(At(path)));
        using var listener = TransportFactory.CreateListener(At(path));
        Assert.True(connecting.Wait(Wait.Long));
        using var connection = connecting.Result;
        Assert.False(connection.IsClosed);
    }
}

[Collection("Log")]
public class ListenerLogTests
{
    [Fact]
    public void Binding_a_non_loopback_address_logs_a_security_warning()
    {
        using var capture = new LogCapture();
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp", Host = "0.0.0.0" });
        Assert.Contains(capture.Entries, e => e.Level == Diagnostics.LogLevel.Warning
            && e.Message.Contains("security warning") && e.Message.Contains("0.0.0.0"));
    }

    [Fact]
    public void Loopback_binds_log_no_warning()
    {
        using var capture = new LogCapture();
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "tcp" });
        Assert.DoesNotContain(capture.Entries, e => e.Level >= Diagnostics.LogLevel.Warning);
    }

    [Fact]
    public void A_unix_listener_that_cannot_be_set_up_falls_back_to_tcp_and_says_so()
    {
        using var capture = new LogCapture();
        string path = Path.Combine(Path.GetTempPath(), "dapper-no-such-dir-" + Guid.NewGuid().ToString("N")[..8], "ipc.sock");
        using var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "unix", Path = path });
        Assert.Equal("tcp", listener.LauncherArgs[1]);
        Assert.Contains(capture.Entries, e => e.Level == Diagnostics.LogLevel.Warning && e.Message.Contains("falling back to tcp"));
    }

    [Fact]
    public void Cleanup_on_another_thread_cancels_a_connect_that_is_still_retrying()
    {
        using var capture = new LogCapture();
        var client = new Manager.IPCManager();
        string path = Path.Combine(Path.GetTempPath(), "dapper-nobody-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        var connecting = Task.Run(() => Assert.Throws<IpcException>(
            () => client.Connect(new TransportConfig { Transport = "unix", Path = path, ConnectTimeoutMs = 60_000 })));

        // The connector logs each retry: once one is logged, the connect is under way.
        Assert.True(capture.Retried.Wait(Wait.Long), "connect never retried");
        client.Cleanup();
        Assert.True(connecting.Wait(Wait.Long), "connect did not return after cleanup");
        Assert.Equal(IpcStatus.Cancelled, connecting.Result.Status);
    }
}
