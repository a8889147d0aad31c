using System.Net.Sockets;
using System.Text;
using DapperIpc.Factory;
using DapperIpc.Transports;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Tests;

/// <summary>The unix listener: its private directory, the caller-given paths it takes, and those it refuses.</summary>
public sealed class UnixListenerTests : IDisposable
{
    private const string PosixFiles = "unix-socket files on disk (their lstat kind and mode, stale sockets, the path lock) are the POSIX code path; on Windows the library keeps .NET's AF_UNIX socket and the C shim that reads struct stat is not built";

    private const UnixFileMode Mode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // A scratch directory per test for caller-given paths; removed afterwards.
    private readonly string _dir = Directory.CreateTempSubdirectory("dapper-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TransportConfig At(string path) => new() { Transport = "unix", Path = path };

    /// <summary>A path in the scratch directory of exactly <paramref name="bytes"/> UTF-8 bytes.</summary>
    private string PathOfBytes(int bytes, char fill = 's')
    {
        string prefix = _dir + "/";
        int left = bytes - Encoding.UTF8.GetByteCount(prefix);
        int perChar = Encoding.UTF8.GetByteCount(fill.ToString());
        Assert.True(left > 0 && left % perChar == 0, "the scratch directory is too long for this test");
        string path = prefix + new string(fill, left / perChar);
        Assert.Equal(bytes, Encoding.UTF8.GetByteCount(path));
        return path;
    }

    [PosixFact(PosixFiles)]
    public void The_default_socket_is_0600_inside_a_fresh_0700_directory_and_dispose_removes_both()
    {
        string path;
        string dir;
        using (var listener = TransportFactory.CreateListener(new TransportConfig { Transport = "unix" }))
        {
            path = listener.LauncherArgs[3];
            dir = Path.GetDirectoryName(path)!;
            Assert.Equal(["--ipc", "unix", "--ipc-path", path], listener.LauncherArgs);
            Assert.True(Path.IsPathFullyQualified(path));
            Assert.Equal(FileKind.Socket, PosixFileKind.Of(path));
            Assert.StartsWith("dapper-", Path.GetFileName(dir));
            Assert.Equal(Mode0700, File.GetUnixFileMode(dir));
            Assert.Equal(Mode0600, File.GetUnixFileMode(path));
            Assert.Equal([path], Directory.GetFileSystemEntries(dir));
        }

        Assert.Equal(FileKind.Missing, PosixFileKind.Of(path));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void Two_default_listeners_get_different_random_directories()
    {
        using var a = TransportFactory.CreateListener(new TransportConfig { Transport = "unix" });
        using var b = TransportFactory.CreateListener(new TransportConfig { Transport = "unix" });
        Assert.NotEqual(Path.GetDirectoryName(a.LauncherArgs[3]), Path.GetDirectoryName(b.LauncherArgs[3]));
    }

    [PosixFact(PosixFiles)]
    public void A_caller_path_is_used_as_given_and_removed_on_dispose_leaving_its_directory()
    {
        string path = Path.Combine(_dir, "given.sock");
        using (var listener = TransportFactory.CreateListener(At(path)))
        {
            Assert.Equal(["--ipc", "unix", "--ipc-path", path], listener.LauncherArgs);
            Assert.Equal(FileKind.Socket, PosixFileKind.Of(path));
            Assert.Equal(Mode0600, File.GetUnixFileMode(path));
        }

        Assert.Equal(FileKind.Missing, PosixFileKind.Of(path));
        Assert.True(Directory.Exists(_dir), "a directory the listener did not make is not removed");
    }

    [PosixFact(PosixFiles)]
    public void A_caller_path_of_exactly_the_sun_path_limit_is_used_as_given()
    {
        // 107 bytes on Linux (108 with the terminator), 103 on macOS.
        string path = PathOfBytes(UnixSocketPath.MaxBytes);
        using var listener = TransportFactory.CreateListener(At(path));
        Assert.Equal(path, listener.LauncherArgs[3]);
        Assert.Equal(FileKind.Socket, PosixFileKind.Of(path));
        using var client = TransportFactory.CreateConnection(At(path));
        using var accepted = listener.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
    }

    [PosixFact(PosixFiles)]
    public void A_caller_path_too_long_for_sun_path_is_refused_and_nothing_is_created()
    {
        int tooLong = UnixSocketPath.MaxBytes + 1;
        string path = PathOfBytes(tooLong);
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.PathTooLong, e.Status);
        Assert.Contains($"{tooLong} bytes", e.Message);
        Assert.Equal(FileKind.Missing, PosixFileKind.Of(path));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));

        string longer = Path.Combine(_dir, new string('s', 120) + ".sock");
        Assert.Equal(IpcStatus.PathTooLong, Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(longer))).Status);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));

        // A client is refused the same way, before any attempt.
        Assert.Equal(IpcStatus.PathTooLong, Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(At(path))).Status);
    }

    [PosixFact(PosixFiles)]
    public void Sun_path_is_counted_in_utf8_bytes_not_characters()
    {
        // Fewer characters than sun_path holds, but more bytes: 'é' is two bytes.
        int bytes = UnixSocketPath.MaxBytes + 1;
        if ((bytes - Encoding.UTF8.GetByteCount(_dir + "/")) % 2 != 0)
        {
            bytes++;
        }

        string path = PathOfBytes(bytes, 'é');
        Assert.True(path.Length <= UnixSocketPath.MaxBytes);
        Assert.Equal(IpcStatus.PathTooLong, Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path))).Status);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [PosixFact(PosixFiles)]
    public void A_regular_file_at_the_caller_path_is_refused_and_left_alone()
    {
        string path = Path.Combine(_dir, "file.sock");
        File.WriteAllText(path, "precious");
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.PathExists, e.Status);
        Assert.Contains(path, e.Message);
        Assert.Equal(FileKind.Other, PosixFileKind.Of(path));
        Assert.Equal("precious", File.ReadAllText(path));
    }

    [PosixFact(PosixFiles)]
    public void A_directory_at_the_caller_path_is_refused_and_left_alone()
    {
        string path = Path.Combine(_dir, "dir.sock");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "inside"), "precious");
        Assert.Equal(IpcStatus.PathExists, Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path))).Status);
        Assert.Equal("precious", File.ReadAllText(Path.Combine(path, "inside")));
    }

    [PosixTheory(PosixFiles)]
    [InlineData(true)]
    [InlineData(false)]
    public void A_symlink_at_the_caller_path_is_never_followed_or_replaced(bool targetExists)
    {
        string target = Path.Combine(_dir, "target");
        if (targetExists)
        {
            File.WriteAllText(target, "precious");
        }

        string path = Path.Combine(_dir, "link.sock");
        File.CreateSymbolicLink(path, target);
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.PathExists, e.Status);
        Assert.Contains("symbolic link", e.Message);
        Assert.Equal(FileKind.SymbolicLink, PosixFileKind.Of(path));
        Assert.Equal(target, new FileInfo(path).LinkTarget);
        if (targetExists)
        {
            Assert.Equal("precious", File.ReadAllText(target));
        }
        else
        {
            Assert.Equal(FileKind.Missing, PosixFileKind.Of(target));
        }
    }

    [PosixFact(PosixFiles)]
    public void A_stale_socket_at_the_caller_path_is_taken_over()
    {
        string path = Path.Combine(_dir, "stale.sock");
        StaleSocket.Create(path);
        Assert.Equal(FileKind.Socket, PosixFileKind.Of(path));
        using (var refused = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            Assert.ThrowsAny<SocketException>(() => refused.Connect(new UnixDomainSocketEndPoint(path)));
        }

        using var listener = TransportFactory.CreateListener(At(path));
        Assert.Equal(path, listener.LauncherArgs[3]);
        using var client = TransportFactory.CreateConnection(At(path));
        using var accepted = listener.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
    }

    [PosixFact(PosixFiles)]
    public void A_caller_path_with_a_live_listener_is_address_in_use_and_the_live_one_keeps_working()
    {
        string path = Path.Combine(_dir, "live.sock");
        using var first = TransportFactory.CreateListener(At(path));
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateListener(At(path)));
        Assert.Equal(IpcStatus.AddressInUse, e.Status);
        Assert.Contains(path, e.Message);

        Assert.Equal(FileKind.Socket, PosixFileKind.Of(path));
        using var client = TransportFactory.CreateConnection(At(path));
        using var accepted = first.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);
    }

    [Fact]
    public void Connecting_to_a_unix_path_nobody_listens_on_is_refused_after_the_connect_timeout()
    {
        string path = Path.Combine(_dir, "nobody.sock");
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(
            new TransportConfig { Transport = "unix", Path = path, ConnectTimeoutMs = 200 }));
        Assert.Equal(IpcStatus.ConnectionRefused, e.Status);
        Assert.Contains(path, e.Message);
    }

    [PosixFact(PosixFiles)]
    public void The_file_identity_seen_by_the_JIT_is_what_stat_reports()
    {
        // PosixFileKind reads struct stat in Native/file_identity.c (libdapper_ipc_shim in
        // the JIT); this holds what it reports to stat(1).
        string path = Path.Combine(_dir, "identity");
        File.WriteAllText(path, "x");
        var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", OperatingSystem.IsMacOS() ? ["-f", "%d %i", path] : ["-c", "%d %i", path])
        {
            RedirectStandardOutput = true,
        })!;
        string[] expected = stat.StandardOutput.ReadToEnd().Trim().Split(' ');
        stat.WaitForExit();

        FileIdentity identity = PosixFileKind.IdentityOf(path);
        Assert.Equal(FileKind.Other, identity.Kind);
        Assert.Equal(ulong.Parse(expected[0]), identity.Device);
        Assert.Equal(ulong.Parse(expected[1]), identity.Inode);
    }

    [PosixFact(PosixFiles)]
    public void Two_listeners_racing_for_a_stale_socket_path_never_both_win()
    {
        // Native/path_lock.c (libdapper_ipc_shim in the JIT); across processes, H: path-race-*.
        string path = Path.Combine(_dir, "race.sock");
        for (int round = 0; round < 100; round++)
        {
            StaleSocket.Create(path);
            using var start = new Barrier(2);
            var results = new IpcStatus[2];
            var listeners = new ListenerBase?[2];
            var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                try
                {
                    listeners[i] = TransportFactory.CreateListener(At(path));
                    results[i] = IpcStatus.Ok;
                }
                catch (IpcException e)
                {
                    results[i] = e.Status;
                }
            })).ToArray();
            foreach (var t in threads)
            {
                t.Start();
            }

            foreach (var t in threads)
            {
                t.Join();
            }

            Assert.Equal(1, results.Count(r => r == IpcStatus.Ok));
            Assert.Equal(1, results.Count(r => r == IpcStatus.AddressInUse));
            foreach (var l in listeners)
            {
                l?.Dispose();
            }

            Assert.False(File.Exists(path + ".lock"));
        }
    }
}
