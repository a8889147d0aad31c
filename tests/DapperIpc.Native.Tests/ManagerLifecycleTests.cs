using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

/// <summary>IPCManager's states: what each call requires, what wait_for_client and cleanup do, and that cleanup leaves nothing behind.</summary>
public class ManagerLifecycleTests
{
    public static TheoryData<string> Transports => ["unix", "tcp"];

    private static TransportConfig Config(string transport) => new() { Transport = transport };

    [Theory]
    [MemberData(nameof(Transports))]
    public void Send_before_a_client_is_not_connected_and_the_listener_still_accepts(string transport)
    {
        var server = new IPCManager();
        var config = Config(transport);
        config.ClientWaitMs = -1; // no wait: SendWaitsForClientTests covers the default
        var args = server.CreateListener(config);
        var e = Assert.Throws<IpcException>(() => server.Send(FrameKind.Command, Json.Bytes("{}")));
        Assert.Equal(IpcStatus.NotConnected, e.Status);
        Assert.Contains("waiting", e.Message);
        Assert.False(server.IsConnected);

        using var raw = RawPeer.Connect(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        Assert.True(server.IsConnected);
        server.Send(FrameKind.Command, Json.Bytes("{}"));
        Assert.Equal(Frames.Encode(FrameKind.Command, "{}"), RawPeer.ReceiveExactly(raw, 10));
        server.Cleanup();
        SocketFiles.AssertGone(args);
    }

    [Fact]
    public void Send_on_a_manager_that_never_listened_or_connected_is_not_connected()
    {
        var manager = new IPCManager();
        var e = Assert.Throws<IpcException>(() => manager.Send(FrameKind.Event, Json.Bytes("{}")));
        Assert.Equal(IpcStatus.NotConnected, e.Status);
        Assert.False(manager.IsConnected);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_second_listener_or_connect_on_the_same_manager_is_an_invalid_state(string transport)
    {
        var server = new IPCManager();
        var args = server.CreateListener(Config(transport));
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => server.CreateListener(Config(transport))).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => server.Connect(ConnectedPair.ClientConfig(args))).Status);

        var client = new IPCManager();
        client.Connect(ConnectedPair.ClientConfig(args));
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => client.Connect(ConnectedPair.ClientConfig(args))).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => client.CreateListener(Config(transport))).Status);

        // The refused calls changed nothing: the first listener still takes its client.
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        Assert.True(server.IsConnected);
        client.Cleanup();
        server.Cleanup();
        SocketFiles.AssertGone(args);
    }

    [Fact]
    public void Calls_that_need_a_listener_are_an_invalid_state_before_create_listener()
    {
        var manager = new IPCManager();
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => manager.WaitForClient(10)).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => manager.WaitForClient(-1)).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => manager.StartReader()).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => _ = manager.LauncherArgs).Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Wait_for_client_times_out_and_a_later_client_is_still_accepted(string transport)
    {
        var server = new IPCManager();
        var args = server.CreateListener(Config(transport));
        var e = Assert.Throws<IpcException>(() => server.WaitForClient(50));
        Assert.Equal(IpcStatus.Timeout, e.Status);
        Assert.Equal(IpcStatus.Timeout, Assert.Throws<IpcException>(() => server.WaitForClient(0)).Status);
        Assert.False(server.IsConnected);

        using var raw = RawPeer.Connect(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        Assert.True(server.IsConnected);
        server.Send(FrameKind.Command, Json.Bytes("{}"));
        Assert.Equal(Frames.Encode(FrameKind.Command, "{}"), RawPeer.ReceiveExactly(raw, 10));
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Wait_for_client_returns_at_once_when_a_client_is_already_connected_or_the_manager_connected(string transport)
    {
        using var pair = new ConnectedPair(transport);
        pair.Server.WaitForClient(0);
        pair.Client.WaitForClient(0);
        Assert.True(pair.Server.IsConnected);
        Assert.True(pair.Client.IsConnected);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Wait_for_client_while_the_reader_accepts_returns_once_the_reader_has_the_client(string transport)
    {
        var server = new IPCManager();
        var handler = new RecordingHandler();
        server.SetHandler(handler);
        var args = server.CreateListener(Config(transport));
        server.StartReader();
        ManagerProbe.WaitUntilAccepting(server);
        var waiting = Task.Run(() => server.WaitForClient((int)Wait.Long.TotalMilliseconds));

        using var raw = RawPeer.Connect(args);
        Assert.True(waiting.Wait(Wait.Long), "wait_for_client did not return after the reader accepted");
        Assert.True(handler.Connected.Wait(Wait.Long));
        raw.Send(Frames.Encode(FrameKind.Event, "{\"event\": \"x\"}"));
        Assert.Equal("{\"event\": \"x\"}", Json.Text(handler.Next().Payload));
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_on_another_thread_cancels_a_blocked_wait_for_client(string transport)
    {
        var server = new IPCManager();
        var args = server.CreateListener(Config(transport));
        using var aboutToBlock = new ManualResetEventSlim();
        var waiting = new TaskCompletionSource<IpcException?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            aboutToBlock.Set();
            try
            {
                server.WaitForClient(-1);
                waiting.SetResult(null);
            }
            catch (IpcException e)
            {
                waiting.SetResult(e);
            }
        });
        thread.Start();
        Assert.True(aboutToBlock.Wait(Wait.Long));
        // Cleanup before the wait has begun would be an invalid state instead: make sure it has.
        ManagerProbe.WaitUntilAccepting(server);

        server.Cleanup();
        Assert.True(waiting.Task.Wait(Wait.Long), "wait_for_client did not return after cleanup");
        Assert.NotNull(waiting.Task.Result);
        Assert.Equal(IpcStatus.Cancelled, waiting.Task.Result!.Status);
        Assert.True(thread.Join(Wait.Long));
        SocketFiles.AssertGone(args);
    }

    [Fact]
    public void Cleanup_of_a_manager_never_used_is_fine_and_idempotent()
    {
        var manager = new IPCManager();
        manager.Cleanup();
        manager.Cleanup();
        manager.Dispose();
        Assert.False(manager.IsConnected);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_is_idempotent_and_the_manager_can_listen_again(string transport)
    {
        var manager = new IPCManager();
        var first = manager.CreateListener(Config(transport));
        manager.StartReader();
        manager.Cleanup();
        manager.Cleanup();
        SocketFiles.AssertGone(first);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => _ = manager.LauncherArgs).Status);

        var second = manager.CreateListener(Config(transport));
        Assert.Equal(second, manager.LauncherArgs);
        if (transport == "unix")
        {
            Assert.NotEqual(first[3], second[3]);
        }

        // The new listener is a working one.
        var client = new IPCManager();
        client.Connect(ConnectedPair.ClientConfig(second));
        manager.WaitForClient((int)Wait.Long.TotalMilliseconds);
        client.Send(FrameKind.Event, Json.Bytes("{\"again\": 1}"));
        var handler = new RecordingHandler();
        manager.SetHandler(handler);
        manager.StartReader();
        Assert.Equal("{\"again\": 1}", Json.Text(handler.Next().Payload));

        client.Cleanup();
        manager.Cleanup();
        manager.Cleanup();
        SocketFiles.AssertGone(second);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_ends_the_connection_so_the_peer_sees_end_of_file_and_removes_the_socket_files(string transport)
    {
        var server = new IPCManager();
        var handler = new RecordingHandler();
        server.SetHandler(handler);
        var args = server.CreateListener(Config(transport));
        server.StartReader();
        using var raw = RawPeer.Connect(args);
        Assert.True(handler.Connected.Wait(Wait.Long));

        server.Cleanup();
        Assert.True(RawPeer.SeesEndOfStream(raw));
        Assert.False(server.IsConnected);
        Assert.Equal(IpcStatus.NotConnected, Assert.Throws<IpcException>(() => server.Send(FrameKind.Command, [])).Status);
        Assert.False(handler.Disconnected.Task.IsCompleted, "a close the host asked for is not reported");
        SocketFiles.AssertGone(args);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_from_inside_the_message_handler_returns_and_no_handler_call_follows(string transport)
    {
        using var pair = new ConnectedPair(transport);
        using var cleanedUp = new ManualResetEventSlim();
        int calls = 0;
        pair.ServerHandler.OnEach = (_, _) =>
        {
            if (Interlocked.Increment(ref calls) == 3)
            {
                pair.Server.Cleanup();
                cleanedUp.Set();
            }
        };

        // Keep sending until the server's cleanup shows at this end.
        var (status, _) = SendLoop.UntilFailure(pair.Client);
        Assert.True(cleanedUp.Wait(Wait.Long), "cleanup inside the handler did not return");
        Assert.Equal(IpcStatus.Closed, status);
        // The server closed with our unread frames in its buffer, so the kernel may reset
        // the connection rather than end it cleanly: both are reported.
        Assert.Contains(pair.ClientHandler.WaitDisconnected().Status, new[] { IpcStatus.Ok, IpcStatus.Closed });
        Assert.Equal(3, Volatile.Read(ref calls));
        Assert.False(pair.ServerHandler.Disconnected.Task.IsCompleted, "a close the host asked for is not reported");
        SocketFiles.AssertGone(pair.Args);

        // The manager is usable again from the test thread.
        var again = pair.Server.CreateListener(Config(transport));
        pair.Server.Cleanup();
        SocketFiles.AssertGone(again);
    }

    [Fact]
    public void Callbacks_cannot_change_while_the_reader_runs()
    {
        var server = new IPCManager();
        server.CreateListener(Config("tcp"));
        server.StartReader();
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => server.SetHandler(new RecordingHandler())).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => server.StartReader()).Status);
        server.Cleanup();
        server.SetHandler(new RecordingHandler());
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Connecting_to_nobody_with_a_short_timeout_is_refused_and_the_manager_stays_usable(string transport)
    {
        TransportConfig config;
        if (transport == "unix")
        {
            config = new TransportConfig
            {
                Transport = "unix",
                Path = Path.Combine(Path.GetTempPath(), "dapper-nobody-" + Guid.NewGuid().ToString("N")[..12] + ".sock"),
            };
        }
        else
        {
            int port = ClosedPort.Take();

            config = new TransportConfig { Transport = "tcp", Port = port };
        }

        config.ConnectTimeoutMs = 150;
        var client = new IPCManager();
        var e = Assert.Throws<IpcException>(() => client.Connect(config));
        Assert.Equal(IpcStatus.ConnectionRefused, e.Status);
        Assert.False(client.IsConnected);
        Assert.Equal(IpcStatus.NotConnected, Assert.Throws<IpcException>(() => client.Send(FrameKind.Event, [])).Status);

        var args = client.CreateListener(Config(transport));
        client.Cleanup();
        SocketFiles.AssertGone(args);
    }
}
