using System.Net.Sockets;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

public class ManagerLifecycleTests
{
    public static TheoryData<string> Transports => ["unix", "tcp"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void Messages_flow_both_ways_and_the_handler_runs_on_the_reader_thread(string transport)
    {
        using var pair = new ConnectedPair(transport);
        Assert.True(pair.ServerHandler.Connected.Wait(Wait.Long));

        pair.Server.Send(FrameKind.Command, Json.Bytes("{\"seq\": 1, \"command\": \"configurationDone\"}"));
        var atClient = pair.ClientHandler.Next();
        Assert.Equal(FrameKind.Command, atClient.Kind);
        Assert.Equal("{\"seq\": 1, \"command\": \"configurationDone\"}", Json.Text(atClient.Payload));

        for (int i = 0; i < 3; i++)
        {
            pair.Client.Send(FrameKind.Event, Json.Bytes($"{{\"event\": \"e{i}\"}}"));
        }

        var received = Enumerable.Range(0, 3).Select(_ => pair.ServerHandler.Next()).ToList();
        Assert.Equal(["{\"event\": \"e0\"}", "{\"event\": \"e1\"}", "{\"event\": \"e2\"}"], received.Select(m => Json.Text(m.Payload)));
        Assert.All(received, m => Assert.Equal("dapper-ipc-reader", m.ThreadName));
        Assert.Single(received.Select(m => m.ThreadId).Distinct());
        Assert.NotEqual(Environment.CurrentManagedThreadId, received[0].ThreadId);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void The_peer_cleaning_up_between_frames_is_a_clean_disconnect_and_later_sends_fail_closed(string transport)
    {
        using var pair = new ConnectedPair(transport);
        pair.Client.Cleanup();

        var (status, reason) = pair.ServerHandler.WaitDisconnected();
        Assert.Equal(IpcStatus.Ok, status);
        Assert.Contains("closed", reason);
        Assert.False(pair.Server.IsConnected);
        var e = Assert.Throws<IpcException>(() => pair.Server.Send(FrameKind.Command, Json.Bytes("{}")));
        Assert.Equal(IpcStatus.Closed, e.Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_ends_the_connection_so_the_peer_sees_end_of_file(string transport)
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = transport });
        using var raw = RawClient(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        server.Cleanup();

        var buffer = new byte[16];
        Assert.Equal(0, raw.Receive(buffer));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_peer_sending_a_bad_magic_is_disconnected_with_a_protocol_error(string transport)
    {
        var server = new IPCManager();
        var handler = new RecordingHandler();
        server.SetHandler(handler);
        var args = server.CreateListener(new TransportConfig { Transport = transport });
        server.StartReader();
        using var raw = RawClient(args);
        raw.Send("GET / HTTP/1.1\r\n\r\n"u8);

        var (status, reason) = handler.WaitDisconnected();
        Assert.Equal(IpcStatus.Protocol, status);
        Assert.Contains("magic", reason);
        Assert.Equal(0, raw.Receive(new byte[16]));
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_peer_announcing_an_oversized_frame_is_disconnected_without_allocating_it(string transport)
    {
        var server = new IPCManager();
        var handler = new RecordingHandler();
        server.SetHandler(handler);
        var args = server.CreateListener(new TransportConfig { Transport = transport, MaxFrameSize = 1024 });
        server.StartReader();
        using var raw = RawClient(args);
        var header = new byte[8];
        FrameHeader.Write(header, FrameKind.Event, 0xFFFFFFFF);
        raw.Send(header);

        Assert.Equal(IpcStatus.FrameTooLarge, handler.WaitDisconnected().Status);
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_peer_vanishing_mid_frame_is_reported_as_closed(string transport)
    {
        var server = new IPCManager();
        var handler = new RecordingHandler();
        server.SetHandler(handler);
        var args = server.CreateListener(new TransportConfig { Transport = transport });
        server.StartReader();
        using (var raw = RawClient(args))
        {
            raw.Send(Frames.Encode(FrameKind.Event, "{\"event\": \"cut\"}")[..11]);
        }

        var (status, reason) = handler.WaitDisconnected();
        Assert.Equal(IpcStatus.Closed, status);
        Assert.Contains("middle of a frame", reason);
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Send_before_a_client_is_not_connected_and_the_listener_still_accepts(string transport)
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = transport });
        var e = Assert.Throws<IpcException>(() => server.Send(FrameKind.Command, Json.Bytes("{}")));
        Assert.Equal(IpcStatus.NotConnected, e.Status);
        Assert.Contains("waiting", e.Message);

        using var raw = RawClient(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        server.Send(FrameKind.Command, Json.Bytes("{}"));
        var frame = new byte[10];
        int got = 0;
        while (got < frame.Length)
        {
            got += raw.Receive(frame.AsSpan(got));
        }

        Assert.Equal(Frames.Encode(FrameKind.Command, "{}"), frame);
        server.Cleanup();
    }

    [Fact]
    public void A_second_listener_or_connect_on_the_same_manager_is_an_invalid_state()
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = "tcp" });
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(
            () => server.CreateListener(new TransportConfig { Transport = "tcp" })).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(
            () => server.Connect(ConnectedPair.ClientConfig(args))).Status);
        server.Cleanup();
    }

    [Fact]
    public void Wait_for_client_before_a_listener_is_an_invalid_state()
    {
        var manager = new IPCManager();
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => manager.WaitForClient(10)).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => manager.StartReader()).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => _ = manager.LauncherArgs).Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Wait_for_client_times_out_cleanly_and_a_later_client_is_still_accepted(string transport)
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = transport });
        var e = Assert.Throws<IpcException>(() => server.WaitForClient(50));
        Assert.Equal(IpcStatus.Timeout, e.Status);

        using var raw = RawClient(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        Assert.True(server.IsConnected);
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_on_another_thread_cancels_a_blocked_wait_for_client(string transport)
    {
        var server = new IPCManager();
        server.CreateListener(new TransportConfig { Transport = transport });
        using var started = new ManualResetEventSlim();
        var waiting = Task.Run(() =>
        {
            started.Set();
            return Assert.Throws<IpcException>(() => server.WaitForClient(-1));
        });
        Assert.True(started.Wait(Wait.Long));
        // Whether cleanup lands before or during the wait, the outcome is the same.
        server.Cleanup();
        Assert.True(waiting.Wait(Wait.Long), "wait_for_client did not return after cleanup");
        Assert.Equal(IpcStatus.Cancelled, waiting.Result.Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_is_idempotent_and_the_manager_can_listen_again(string transport)
    {
        var manager = new IPCManager();
        manager.Cleanup();
        var first = manager.CreateListener(new TransportConfig { Transport = transport });
        manager.StartReader();
        manager.Cleanup();
        manager.Cleanup();
        var second = manager.CreateListener(new TransportConfig { Transport = transport });
        Assert.Equal(first.Count, second.Count);
        manager.Cleanup();
        if (transport == "unix")
        {
            Assert.False(File.Exists(first[3]));
            Assert.False(Directory.Exists(Path.GetDirectoryName(first[3])));
            Assert.NotEqual(first[3], second[3]);
            Assert.False(File.Exists(second[3]));
        }
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
        var (status, _) = SendUntilClosed(pair.Client);
        Assert.True(cleanedUp.Wait(Wait.Long));
        Assert.Equal(IpcStatus.Closed, status);
        // The server closed with our unread frames in its buffer, so the kernel may reset
        // the connection rather than end it cleanly: both are reported.
        Assert.Contains(pair.ClientHandler.WaitDisconnected().Status, new[] { IpcStatus.Ok, IpcStatus.Closed });
        Assert.Equal(3, Volatile.Read(ref calls));
        Assert.False(pair.ServerHandler.Disconnected.Task.IsCompleted, "a close the host asked for is not reported");
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_16_MiB_frame_round_trips(string transport)
    {
        using var pair = new ConnectedPair(transport);
        byte[] big = new byte[16 * 1024 * 1024];
        new Random(7).NextBytes(big);
        pair.Client.Send(FrameKind.Event, big);
        Assert.Equal(big, pair.ServerHandler.Next().Payload);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_frame_above_the_maximum_is_refused_on_send_and_on_receive(string transport)
    {
        using var pair = new ConnectedPair(transport, serverMax: 1024, clientMax: 4096);
        var e = Assert.Throws<IpcException>(() => pair.Server.Send(FrameKind.Command, new byte[1025]));
        Assert.Equal(IpcStatus.FrameTooLarge, e.Status);
        Assert.True(pair.Server.IsConnected, "refusing to send an oversized frame keeps the connection");

        pair.Client.Send(FrameKind.Event, new byte[2048]);
        Assert.Equal(IpcStatus.FrameTooLarge, pair.ServerHandler.WaitDisconnected().Status);
    }

    [Fact]
    public void Callbacks_cannot_change_while_the_reader_runs()
    {
        var server = new IPCManager();
        server.CreateListener(new TransportConfig { Transport = "tcp" });
        server.StartReader();
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => server.SetHandler(new RecordingHandler())).Status);
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => server.StartReader()).Status);
        server.Cleanup();
        server.SetHandler(new RecordingHandler());
    }

    internal static (IpcStatus Status, string Message) SendUntilClosed(IPCManager manager)
    {
        for (int i = 0; i < 1_000_000; i++)
        {
            try
            {
                manager.Send(FrameKind.Event, Json.Bytes("{\"event\": \"tick\"}"));
            }
            catch (IpcException e)
            {
                return (e.Status, e.Message);
            }
        }

        throw new Xunit.Sdk.XunitException("the connection never closed");
    }

    internal static Socket RawClient(IReadOnlyList<string> args)
    {
        if (args[1] == "unix")
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(args[3]));
            return s;
        }

        var t = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        t.Connect(args[3], int.Parse(args[5]));
        return t;
    }
}
