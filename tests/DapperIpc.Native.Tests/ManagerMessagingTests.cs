using DapperIpc.Framing;

namespace DapperIpc.Tests;

/// <summary>IPCManager over real unix and tcp sockets: frames both ways, on the reader thread, of any allowed size.</summary>
public class ManagerMessagingTests
{
    public static TheoryData<string> Transports => ["unix", "tcp"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void Both_ends_report_connected_on_their_reader_thread(string transport)
    {
        using var pair = new ConnectedPair(transport);
        Assert.True(pair.ServerHandler.Connected.Wait(Wait.Long), "the listener side never reported Connected");
        Assert.True(pair.ClientHandler.Connected.Wait(Wait.Long), "the connecting side never reported Connected");
        Assert.True(pair.Server.IsConnected);
        Assert.True(pair.Client.IsConnected);
        Assert.False(pair.ServerHandler.Disconnected.Task.IsCompleted);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Messages_flow_both_ways_in_order_and_the_handler_runs_on_the_reader_thread(string transport)
    {
        using var pair = new ConnectedPair(transport);
        int testThread = Environment.CurrentManagedThreadId;

        for (int i = 0; i < 3; i++)
        {
            pair.Server.Send(FrameKind.Command, Json.Bytes($"{{\"seq\": {i}, \"command\": \"configurationDone\"}}"));
            pair.Client.Send(FrameKind.Event, Json.Bytes($"{{\"event\": \"e{i}\"}}"));
        }

        var atClient = Enumerable.Range(0, 3).Select(_ => pair.ClientHandler.Next()).ToList();
        var atServer = Enumerable.Range(0, 3).Select(_ => pair.ServerHandler.Next()).ToList();

        Assert.Equal(Enumerable.Range(0, 3).Select(i => $"{{\"seq\": {i}, \"command\": \"configurationDone\"}}"),
            atClient.Select(m => Json.Text(m.Payload)));
        Assert.All(atClient, m => Assert.Equal(FrameKind.Command, m.Kind));
        Assert.Equal(["{\"event\": \"e0\"}", "{\"event\": \"e1\"}", "{\"event\": \"e2\"}"], atServer.Select(m => Json.Text(m.Payload)));
        Assert.All(atServer, m => Assert.Equal(FrameKind.Event, m.Kind));

        foreach (var received in new[] { atClient, atServer })
        {
            Assert.All(received, m => Assert.Equal("dapper-ipc-reader", m.ThreadName));
            Assert.Single(received.Select(m => m.ThreadId).Distinct());
            Assert.NotEqual(testThread, received[0].ThreadId);
        }

        Assert.NotEqual(atClient[0].ThreadId, atServer[0].ThreadId);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Empty_and_non_json_payloads_are_delivered_as_sent(string transport)
    {
        using var pair = new ConnectedPair(transport);
        byte[] garbage = [0xff, 0xfe, 0x00, (byte)'D', (byte)'P', 1, 0xc3, 0x28];
        pair.Client.Send(FrameKind.Event, []);
        pair.Client.Send(FrameKind.Event, garbage);
        pair.Client.Send(FrameKind.Event, Json.Bytes("{}"));

        Assert.Empty(pair.ServerHandler.Next().Payload);
        Assert.Equal(garbage, pair.ServerHandler.Next().Payload);
        Assert.Equal("{}", Json.Text(pair.ServerHandler.Next().Payload));
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

        // And back, followed by a small frame that must still parse.
        pair.Server.Send(FrameKind.Command, big);
        pair.Server.Send(FrameKind.Command, Json.Bytes("{\"after\": true}"));
        Assert.Equal(big, pair.ClientHandler.Next().Payload);
        Assert.Equal("{\"after\": true}", Json.Text(pair.ClientHandler.Next().Payload));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_frame_above_the_maximum_is_refused_on_send_and_ends_the_connection_on_receive(string transport)
    {
        using var pair = new ConnectedPair(transport, serverMax: 1024, clientMax: 4096);

        // Sending: refused before anything goes out; the connection carries on.
        var e = Assert.Throws<IpcException>(() => pair.Server.Send(FrameKind.Command, new byte[1025]));
        Assert.Equal(IpcStatus.FrameTooLarge, e.Status);
        Assert.True(pair.Server.IsConnected, "refusing to send an oversized frame keeps the connection");
        pair.Server.Send(FrameKind.Command, new byte[1024]);
        Assert.Equal(1024, pair.ClientHandler.Next().Payload.Length);

        // Receiving: a peer allowed more than we are sends a frame we refuse to read.
        pair.Client.Send(FrameKind.Event, new byte[1024]);
        Assert.Equal(1024, pair.ServerHandler.Next().Payload.Length);
        pair.Client.Send(FrameKind.Event, new byte[2048]);
        var (status, reason) = pair.ServerHandler.WaitDisconnected();
        Assert.Equal(IpcStatus.FrameTooLarge, status);
        Assert.Contains("2048", reason);
        Assert.False(pair.Server.IsConnected);
        Assert.Empty(pair.ServerHandler.Messages);
    }
}
