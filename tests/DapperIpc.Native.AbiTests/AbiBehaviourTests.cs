using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DapperIpc.AbiTests.Native;
using static DapperIpc.AbiTests.Native.DapperIpcNative;

namespace DapperIpc.AbiTests;

public unsafe class AbiBehaviourTests
{
    private const int Ok = (int)dapper_ipc_status.DAPPER_IPC_OK;
    private const int Event = (int)dapper_ipc_kind.DAPPER_IPC_KIND_EVENT;
    private const int Command = (int)dapper_ipc_kind.DAPPER_IPC_KIND_COMMAND;

    [Fact]
    public void The_version_is_the_one_in_the_header()
    {
        string header = File.ReadAllText(NativeLibraryLoader.HeaderPath);
        string expected = System.Text.RegularExpressions.Regex.Match(header, "DAPPER_IPC_VERSION_STRING \"([^\"]+)\"").Groups[1].Value;
        Assert.Equal(expected, Abi.Text(dapper_ipc_version()));
        Assert.Equal("invalid handle", Abi.Text(dapper_ipc_status_string((int)dapper_ipc_status.DAPPER_IPC_E_INVALID_HANDLE)));
        Assert.Equal("unknown status", Abi.Text(dapper_ipc_status_string(12345)));
    }

    public static TheoryData<string> Transports => ["unix", "tcp"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void Messages_flow_both_ways_with_callbacks_on_the_reader_thread(string transport)
    {
        using var serverEvents = new Recorder();
        using var clientEvents = new Recorder();
        var server = Abi.Create();
        var client = Abi.Create();
        serverEvents.Install(server);
        clientEvents.Install(client);
        Assert.Equal(Ok, Abi.Listen(server, transport));
        string[] args = Abi.LauncherArgs(server);
        Assert.Equal(["--ipc", transport], args[..2]);
        Assert.Equal(Ok, dapper_ipc_start_reader(server));
        Assert.Equal(Ok, Abi.Connect(client, args));
        Assert.Equal(Ok, dapper_ipc_start_reader(client));
        Assert.Equal(Ok, dapper_ipc_wait_for_client(server, 20_000));
        Assert.True(serverEvents.Connected.Wait(Recorder.Wait));

        Assert.Equal(Ok, Abi.Send(server, Command, "{\"seq\": 1, \"command\": \"threads\"}"));
        var atClient = clientEvents.Next();
        Assert.Equal((Command, "{\"seq\": 1, \"command\": \"threads\"}"), (atClient.Kind, atClient.Payload));
        Assert.Equal(Ok, Abi.Send(client, Event, "{\"event\": \"a\"}"));
        Assert.Equal(Ok, Abi.Send(client, Event, "{\"event\": \"b\"}"));
        var a = serverEvents.Next();
        var b = serverEvents.Next();
        Assert.Equal("{\"event\": \"b\"}", b.Payload);
        Assert.Equal(a.ThreadId, b.ThreadId);
        Assert.NotEqual(Environment.CurrentManagedThreadId, a.ThreadId);

        int connected;
        Assert.Equal(Ok, dapper_ipc_is_connected(server, &connected));
        Assert.Equal(1, connected);

        // The peer leaves: a disconnect notification, then sends fail with E_CLOSED.
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.True(serverEvents.Disconnected.Task.Wait(Recorder.Wait));
        Assert.Equal(Ok, serverEvents.Disconnected.Task.Result.Status);
        Assert.Equal((int)dapper_ipc_status.DAPPER_IPC_E_CLOSED, Abi.Send(server, Command, "{}"));
        Assert.NotEmpty(Abi.LastError());

        Assert.Equal(Ok, dapper_ipc_cleanup(server));
        Assert.Equal(Ok, dapper_ipc_cleanup(server));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
        if (transport == "unix")
        {
            Assert.False(File.Exists(args[3]));
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_batch_arrives_whole_and_in_order_and_a_bad_frame_in_it_sends_nothing(string transport)
    {
        using var serverEvents = new Recorder();
        var server = Abi.Create();
        var client = Abi.Create();
        serverEvents.Install(server);
        Assert.Equal(Ok, Abi.Listen(server, transport));
        Assert.Equal(Ok, dapper_ipc_start_reader(server));
        Assert.Equal(Ok, Abi.Connect(client, Abi.LauncherArgs(server)));

        // 600 frames: more than one write's worth (256), sizes from empty to 64 KiB.
        const int Count = 600;
        byte[][] payloads = Enumerable.Range(0, Count)
            .Select(i => System.Text.Encoding.UTF8.GetBytes($"{{\"seq\": {i}, \"pad\": \"{new string('x', i % 7 == 0 ? 65536 : i)}\"}}"))
            .ToArray();
        payloads[5] = [];
        var handles = payloads.Select(p => GCHandle.Alloc(p, GCHandleType.Pinned)).ToArray();
        try
        {
            var frames = new dapper_ipc_frame[Count];
            for (int i = 0; i < Count; i++)
            {
                frames[i] = new dapper_ipc_frame { payload = (void*)handles[i].AddrOfPinnedObject(), length = (nuint)payloads[i].Length, kind = Event };
            }

            nuint sent;
            fixed (dapper_ipc_frame* f = frames)
            {
                // A bad kind in the middle: refused before anything is written.
                f[300].kind = 9;
                Assert.Equal((int)dapper_ipc_status.DAPPER_IPC_E_INVALID_ARGUMENT, dapper_ipc_send_batch(client, f, Count, &sent));
                Assert.Equal(0u, sent);
                Assert.Contains("frame 300", Abi.LastError());
                f[300].kind = Event;

                Assert.Equal(Ok, dapper_ipc_send_batch(client, f, 0, null));
                Assert.Equal(Ok, dapper_ipc_send_batch(client, f, Count, &sent));
                Assert.Equal((nuint)Count, sent);
            }

            // Nothing of the refused batch arrived: the first frame is the good batch's first.
            for (int i = 0; i < Count; i++)
            {
                var m = serverEvents.Next();
                Assert.Equal(Event, m.Kind);
                Assert.Equal(System.Text.Encoding.UTF8.GetString(payloads[i]), m.Payload);
            }
        }
        finally
        {
            foreach (var h in handles)
            {
                h.Free();
            }
        }

        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.True(serverEvents.Disconnected.Task.Wait(Recorder.Wait));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    private static dapper_ipc_manager s_cleanedFromCallback;

    [Fact]
    public void Cleanup_from_inside_the_callback_returns_and_ends_the_connection()
    {
        using var serverEvents = new Recorder();
        using var clientEvents = new Recorder();
        var server = Abi.Create();
        var client = Abi.Create();
        s_cleanedFromCallback = server;
        int statusInCallback = 1;
        using var cleaned = new ManualResetEventSlim();
        serverEvents.OnEach = count =>
        {
            if (count == 2)
            {
                statusInCallback = dapper_ipc_cleanup(s_cleanedFromCallback);
                cleaned.Set();
            }
        };
        serverEvents.Install(server);
        clientEvents.Install(client);
        Assert.Equal(Ok, Abi.Listen(server, "unix"));
        Assert.Equal(Ok, dapper_ipc_start_reader(server));
        Assert.Equal(Ok, Abi.Connect(client, Abi.LauncherArgs(server)));
        Assert.Equal(Ok, dapper_ipc_start_reader(client));
        Assert.Equal(Ok, Abi.Send(client, Event, "{}"));
        Assert.Equal(Ok, Abi.Send(client, Event, "{}"));

        Assert.True(cleaned.Wait(Recorder.Wait), "cleanup inside the callback did not return");
        Assert.Equal(Ok, statusInCallback);
        Assert.True(clientEvents.Disconnected.Task.Wait(Recorder.Wait), "the peer did not see the connection end");
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
    }

    [Fact]
    public void Every_export_rejects_a_zero_stale_or_destroyed_handle_with_a_message()
    {
        var destroyed = Abi.Create();
        Assert.Equal(Ok, dapper_ipc_manager_destroy(destroyed));
        dapper_ipc_manager zero = default;
        dapper_ipc_manager neverIssued = new() { id = ulong.MaxValue };
        // Pointers, not locals: the calls below are lambdas, which cannot take a local's address.
        byte* buf = stackalloc byte[64];
        nuint* length = stackalloc nuint[1];
        int* argc = stackalloc int[1];
        int* connected = stackalloc int[1];
        dapper_ipc_config* config = stackalloc dapper_ipc_config[1];
        dapper_ipc_config_init(config, (nuint)sizeof(dapper_ipc_config));

        foreach (var handle in new[] { zero, destroyed, neverIssued })
        {
            var calls = new (string Name, Func<int> Call)[]
            {
                ("manager_destroy", () => dapper_ipc_manager_destroy(handle)),
                ("set_callback", () => dapper_ipc_set_callback(handle, default, default, null)),
                ("set_callbacks", () => dapper_ipc_set_callbacks(handle, default, default, null)),
                ("set_batch_callback", () => dapper_ipc_set_batch_callback(handle, default, default, null)),
                ("create_listener", () => dapper_ipc_create_listener(handle, config)),
                ("launcher_args", () => dapper_ipc_launcher_args(handle, buf, 64, length, argc)),
                ("auth_token", () => dapper_ipc_auth_token(handle, buf, 64, length)),
                ("connect", () => dapper_ipc_connect(handle, config)),
                ("connect_argv", () => dapper_ipc_connect_argv(handle, 0, null)),
                ("wait_for_client", () => dapper_ipc_wait_for_client(handle, 0)),
                ("start_reader", () => dapper_ipc_start_reader(handle)),
                ("send", () => dapper_ipc_send(handle, Event, buf, 0)),
                ("send_batch", () => dapper_ipc_send_batch(handle, null, 0, length)),
                ("cleanup", () => dapper_ipc_cleanup(handle)),
                ("abort", () => dapper_ipc_abort(handle)),
                ("is_connected", () => dapper_ipc_is_connected(handle, connected)),
                ("recv", () => dapper_ipc_recv(handle, buf, 64, length, argc, 0)),
                ("recv_batch", () => dapper_ipc_recv_batch(handle, buf, 64, (dapper_ipc_frame*)buf, 1, length, 0)),
                ("readable_handle", () => dapper_ipc_readable_handle(handle, (nint*)length)),
                ("session_hello", () => dapper_ipc_session_hello(handle, buf, 64, length)),
            };
            foreach (var (name, call) in calls)
            {
                Assert.True(call() == (int)dapper_ipc_status.DAPPER_IPC_E_INVALID_HANDLE, $"{name} with handle {handle.id}");
                Assert.Contains("invalid handle", Abi.LastError());
            }
        }
    }

    [Fact]
    public void Every_session_listener_export_rejects_a_zero_stale_or_destroyed_handle_with_a_message()
    {
        dapper_ipc_session_listener destroyed;
        Assert.Equal(Ok, dapper_ipc_session_listener_create(&destroyed));
        Assert.Equal(Ok, dapper_ipc_session_listener_destroy(destroyed));
        dapper_ipc_session_listener zero = default;
        dapper_ipc_session_listener neverIssued = new() { id = ulong.MaxValue };
        byte* buf = stackalloc byte[64];
        nuint* length = stackalloc nuint[1];
        int* argc = stackalloc int[1];
        dapper_ipc_manager* manager = stackalloc dapper_ipc_manager[1];
        dapper_ipc_config* config = stackalloc dapper_ipc_config[1];
        dapper_ipc_config_init(config, (nuint)sizeof(dapper_ipc_config));
        byte* id = stackalloc byte[] { (byte)'s', 0 };

        foreach (var handle in new[] { zero, destroyed, neverIssued })
        {
            var calls = new (string Name, Func<int> Call)[]
            {
                ("session_listener_destroy", () => dapper_ipc_session_listener_destroy(handle)),
                ("session_listener_set_hello_limits", () => dapper_ipc_session_listener_set_hello_limits(handle, 0, 0)),
                ("session_listener_set_offer_callback", () => dapper_ipc_session_listener_set_offer_callback(handle, default, null)),
                ("session_listener_listen", () => dapper_ipc_session_listener_listen(handle, config)),
                ("session_listener_launcher_args", () => dapper_ipc_session_listener_launcher_args(handle, buf, 64, length, argc)),
                ("session_listener_auth_token", () => dapper_ipc_session_listener_auth_token(handle, buf, 64, length)),
                ("session_listener_expect", () => dapper_ipc_session_listener_expect(handle, id)),
                ("session_listener_accept", () => dapper_ipc_session_listener_accept(handle, id, 0, manager)),
            };
            foreach (var (name, call) in calls)
            {
                Assert.True(call() == (int)dapper_ipc_status.DAPPER_IPC_E_INVALID_HANDLE, $"{name} with handle {handle.id}");
                Assert.Contains("invalid handle", Abi.LastError());
            }
        }
    }

    [Fact]
    public void A_destroy_between_a_failing_call_and_its_message_leaves_the_message()
    {
        // A finalizer (Python's __del__, a C++ destructor) can destroy another manager between
        // a failing call and the read of its message; the message must survive it, as errno
        // survives free().
        dapper_ipc_manager failing, other;
        dapper_ipc_session_listener sessions;
        Assert.Equal(Ok, dapper_ipc_manager_create(&failing));
        Assert.Equal(Ok, dapper_ipc_manager_create(&other));
        Assert.Equal(Ok, dapper_ipc_session_listener_create(&sessions));
        dapper_ipc_config config;
        dapper_ipc_config_init(&config, (nuint)sizeof(dapper_ipc_config));
        byte* tcp = stackalloc byte[] { (byte)'t', (byte)'c', (byte)'p', 0 };
        config.transport = tcp;
        config.port = 99999;
        Assert.Equal((int)dapper_ipc_status.DAPPER_IPC_E_INVALID_ARGUMENT, dapper_ipc_create_listener(failing, &config));
        var message = Abi.LastError();
        Assert.Contains("99999", message);

        Assert.Equal(Ok, dapper_ipc_manager_destroy(other));
        Assert.Equal(message, Abi.LastError());
        Assert.Equal(Ok, dapper_ipc_session_listener_destroy(sessions));
        Assert.Equal(message, Abi.LastError());

        // Any other call that succeeds empties it, as before.
        Assert.Equal(Ok, dapper_ipc_cleanup(failing));
        Assert.Equal("", Abi.LastError());
        Assert.Equal(Ok, dapper_ipc_manager_destroy(failing));
    }

    /// <summary>main's argc/argv as a C launcher has them: NUL-terminated strings, argv[argc] NULL.</summary>
    private static int ConnectArgv(dapper_ipc_manager m, params string?[] args)
    {
        var pinned = args.Select(a => a is null ? default : GCHandle.Alloc(Abi.Utf8(a), GCHandleType.Pinned)).ToArray();
        try
        {
            byte** argv = stackalloc byte*[args.Length + 1];
            for (int i = 0; i < args.Length; i++)
            {
                argv[i] = args[i] is null ? null : (byte*)pinned[i].AddrOfPinnedObject();
            }

            argv[args.Length] = null;
            return dapper_ipc_connect_argv(m, args.Length, argv);
        }
        finally
        {
            foreach (var h in pinned.Where(h => h.IsAllocated))
            {
                h.Free();
            }
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Connect_argv_connects_with_the_launcher_arguments_among_the_launchers_own(string transport)
    {
        using var serverEvents = new Recorder();
        using var clientEvents = new Recorder();
        var server = Abi.Create();
        var client = Abi.Create();
        serverEvents.Install(server);
        // The 0.1.0 name still works, as the header promises.
        Assert.Equal(Ok, dapper_ipc_set_callbacks(client, Recorder.MessageCallback, Recorder.StateCallback, clientEvents.UserData));
        Assert.Equal(Ok, Abi.Listen(server, transport));
        string[] args = Abi.LauncherArgs(server);
        Assert.Equal(Ok, dapper_ipc_start_reader(server));
        // argv[0], the launcher's own options before and after, one option in --opt=value form.
        string[] argv = ["/usr/bin/launcher", "--verbose", "--program", "main.py", .. args[..2], args[2] + "=" + args[3], .. args[4..], "--", "x"];
        Assert.Equal(Ok, ConnectArgv(client, argv));
        Assert.Equal(Ok, dapper_ipc_start_reader(client));
        Assert.Equal(Ok, dapper_ipc_wait_for_client(server, 20_000));
        Assert.Equal(Ok, Abi.Send(client, Event, "{\"event\": \"argv\"}"));
        Assert.Equal("{\"event\": \"argv\"}", serverEvents.Next().Payload);
        Assert.Equal(Ok, Abi.Send(server, Command, "{\"seq\": 1}"));
        Assert.Equal("{\"seq\": 1}", clientEvents.Next().Payload);
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    public static TheoryData<string[], string> BadLauncherArgv => new()
    {
        { ["launcher"], "--ipc is missing" },
        { ["launcher", "--ipc-path", "/tmp/x.sock"], "--ipc is missing" },
        { ["launcher", "--ipc", "carrier-pigeon", "--ipc-path", "/tmp/x.sock"], "--ipc carrier-pigeon" },
        { ["launcher", "--ipc", "unix"], "--ipc-path is missing" },
        { ["launcher", "--ipc", "tcp", "--ipc-host", "127.0.0.1"], "--ipc-port is missing" },
        { ["launcher", "--ipc", "pipe"], "--ipc-pipe is missing" },
        { ["launcher", "--ipc", "tcp", "--ipc-port", "http"], "--ipc-port http" },
        { ["launcher", "--ipc", "tcp", "--ipc-port", "70000"], "--ipc-port 70000" },
        { ["launcher", "--ipc", "unix", "--ipc-path", "/tmp/a.sock", "--ipc-port", "5"], "--ipc-port contradicts --ipc unix" },
        { ["launcher", "--ipc", "tcp", "--ipc-port", "5", "--ipc-path", "/tmp/a.sock"], "--ipc-path contradicts --ipc tcp" },
        { ["launcher", "--ipc", "unix", "--ipc=tcp", "--ipc-path", "/tmp/a.sock"], "--ipc is given twice" },
        { ["launcher", "--ipc", "unix", "--ipc-path", "/tmp/a", "--ipc-path=/tmp/b"], "--ipc-path is given twice" },
        { ["launcher", "--ipc", "unix", "--ipc-path"], "--ipc-path needs a value" },
        { ["launcher", "--ipc", "unix", "--ipc-path="], "--ipc-path is empty" },
    };

    [Theory]
    [MemberData(nameof(BadLauncherArgv))]
    public void Connect_argv_names_a_missing_or_contradictory_option(string[] argv, string named)
    {
        var m = Abi.Create();
        Assert.Equal((int)dapper_ipc_status.DAPPER_IPC_E_INVALID_ARGUMENT, ConnectArgv(m, argv));
        Assert.Contains(named, Abi.LastError());
        // Nothing was started: the manager can still connect or listen.
        Assert.Equal(Ok, Abi.Listen(m, "tcp"));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(m));
    }

    [Fact]
    public void Connect_argv_refuses_bad_argc_and_argv_with_messages()
    {
        const int InvalidArgument = (int)dapper_ipc_status.DAPPER_IPC_E_INVALID_ARGUMENT;
        var m = Abi.Create();
        Assert.Equal(InvalidArgument, dapper_ipc_connect_argv(m, -1, null));
        Assert.Contains("argc", Abi.LastError());
        Assert.Equal(InvalidArgument, dapper_ipc_connect_argv(m, 3, null));
        Assert.Contains("argv is NULL", Abi.LastError());
        Assert.Equal(InvalidArgument, ConnectArgv(m, "launcher", null, "--ipc", "unix"));
        Assert.Contains("argv[1] is NULL", Abi.LastError());
        Assert.Equal(InvalidArgument, dapper_ipc_connect_argv(m, 0, null));
        Assert.Contains("--ipc is missing", Abi.LastError());
        Assert.Equal(Ok, dapper_ipc_manager_destroy(m));
    }

    [Fact]
    public void Null_pointers_and_small_buffers_are_errors_with_messages_never_crashes()
    {
        const int InvalidArgument = (int)dapper_ipc_status.DAPPER_IPC_E_INVALID_ARGUMENT;
        const int TooSmall = (int)dapper_ipc_status.DAPPER_IPC_E_BUFFER_TOO_SMALL;
        Assert.Equal(InvalidArgument, dapper_ipc_manager_create(null));
        Assert.NotEmpty(Abi.LastError());
        Assert.Equal(InvalidArgument, dapper_ipc_config_init(null, 64));

        var m = Abi.Create();
        Assert.Equal(InvalidArgument, dapper_ipc_is_connected(m, null));
        Assert.Equal(InvalidArgument, dapper_ipc_send(m, Event, null, 5));
        Assert.Contains("NULL", Abi.LastError());
        Assert.Equal(InvalidArgument, dapper_ipc_send(m, 7, null, 0));
        Assert.Contains("kind", Abi.LastError());
        Assert.Equal(InvalidArgument, dapper_ipc_set_log_callback(default, null, 9));
        nuint batchSent = 99;
        Assert.Equal(InvalidArgument, dapper_ipc_send_batch(m, null, 3, &batchSent));
        Assert.Contains("NULL", Abi.LastError());
        Assert.Equal(0u, batchSent);

        Assert.Equal(Ok, Abi.Listen(m, "tcp"));
        nuint length;
        byte* small = stackalloc byte[4];
        Assert.Equal(TooSmall, dapper_ipc_launcher_args(m, small, 4, &length, null));
        Assert.True(length > 4);
        Assert.Contains("bytes", Abi.LastError());
        Assert.Equal(InvalidArgument, dapper_ipc_launcher_args(m, null, 16, &length, null));

        // Every buffer-filling function, one rule: the size is reported, nothing of a
        // result that does not fit is written (an empty string), the message stays.
        small[0] = (byte)'x';
        Assert.Equal(TooSmall, dapper_ipc_launcher_args(m, small, 4, &length, null));
        Assert.Equal(0, small[0]);
        small[0] = (byte)'x';
        nuint needed;
        Assert.Equal(TooSmall, dapper_ipc_last_error(small, 4, &needed));
        Assert.True(needed > 4);
        Assert.Equal(0, small[0]);
        Assert.Contains("bytes", Abi.LastError());
        Assert.Equal(InvalidArgument, dapper_ipc_last_error(null, 8, null));

        Assert.Equal((int)dapper_ipc_status.DAPPER_IPC_E_INVALID_STATE, dapper_ipc_auth_token(m, small, 4, &length));
        Assert.Equal(InvalidArgument, dapper_ipc_recv(m, null, 5, &length, null, 0));
        Assert.Equal(InvalidArgument, dapper_ipc_recv(m, small, 4, null, null, 0));
        Assert.Equal(InvalidArgument, dapper_ipc_readable_handle(m, null));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(m));
    }

    private static readonly System.Collections.Concurrent.ConcurrentQueue<(int Level, string Message)> s_log = new();

    [UnmanagedCallersOnly]
    private static void OnLog(void* user, int level, byte* message) => s_log.Enqueue((level, Abi.Text(message)));

    [Fact]
    public void The_log_callback_receives_the_non_loopback_security_warning()
    {
        Assert.Equal(Ok, dapper_ipc_set_log_callback(new dapper_ipc_log_cb(&OnLog), null, (int)dapper_ipc_log_level.DAPPER_IPC_LOG_WARNING));
        try
        {
            var m = Abi.Create();
            Assert.Equal(Ok, Abi.Listen(m, "tcp", host: "0.0.0.0"));
            Assert.Contains(s_log, e => e.Level == (int)dapper_ipc_log_level.DAPPER_IPC_LOG_WARNING && e.Message.Contains("security warning"));
            Assert.Equal(Ok, dapper_ipc_manager_destroy(m));
        }
        finally
        {
            Assert.Equal(Ok, dapper_ipc_set_log_callback(default, null, 0));
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_peer_in_another_process_with_its_own_copy_of_the_library_echoes_commands(string transport)
    {
        string peer = BuildPeer();
        using var events = new Recorder();
        var server = Abi.Create();
        events.Install(server);
        Assert.Equal(Ok, Abi.Listen(server, transport));
        string[] args = Abi.LauncherArgs(server);
        Assert.Equal(Ok, dapper_ipc_start_reader(server));
        using var process = Process.Start(peer, args)!;
        Assert.Equal(Ok, dapper_ipc_wait_for_client(server, 20_000));

        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal(Ok, Abi.Send(server, Command, $"{{\"seq\": {i}, \"command\": \"next\"}}"));
        }

        Assert.Equal(["{\"seq\": 1, \"command\": \"next\"}", "{\"seq\": 2, \"command\": \"next\"}", "{\"seq\": 3, \"command\": \"next\"}"],
            Enumerable.Range(0, 3).Select(_ => events.Next()).Select(m => m.Payload));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
        Assert.True(process.WaitForExit(20_000), "the peer did not exit after the adapter closed");
        Assert.Equal(0, process.ExitCode);
    }

    private static readonly Lazy<string> s_peer = new(() =>
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "native-peer");
        Directory.CreateDirectory(dir);
        string exe = Path.Combine(dir, "peer" + StructLayoutTests.ExeSuffix);
        string libDir = Path.GetDirectoryName(NativeLibraryLoader.LibraryPath)!;
        string[] common = ["-std=c99", "-I", Path.Combine(NativeLibraryLoader.RepoRoot, "include"),
            Path.Combine(AppContext.BaseDirectory, "native", "peer.c"), "-o", exe, "-L" + libDir, "-ldapper_ipc"];
        if (OperatingSystem.IsWindows())
        {
            // No rpath on Windows: the loader looks next to the exe.
            StructLayoutTests.Run(StructLayoutTests.CCompiler, [.. common, "-lpthread"]);
            File.Copy(NativeLibraryLoader.LibraryPath, Path.Combine(dir, Path.GetFileName(NativeLibraryLoader.LibraryPath)), overwrite: true);
        }
        else
        {
            StructLayoutTests.Run(StructLayoutTests.CCompiler, [.. common, "-Wl,-rpath," + libDir, "-lpthread"]);
        }

        return exe;
    });

    private static string BuildPeer() => s_peer.Value;
}
