using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

/// <summary>How a connection that the peer ends (cleanly, or with bad bytes) is reported, and what follows.</summary>
public class ManagerDisconnectTests
{
    public static TheoryData<string> Transports => ["unix", "tcp"];

    /// <summary>A listener manager with its reader started and a raw socket connected to it.</summary>
    private static (IPCManager Server, RecordingHandler Handler, IReadOnlyList<string> Args) Listening(string transport, uint max = FrameHeader.DefaultMaxPayload)
    {
        var server = new IPCManager();
        var handler = new RecordingHandler();
        server.SetHandler(handler);
        var args = server.CreateListener(new TransportConfig { Transport = transport, MaxFrameSize = max });
        server.StartReader();
        return (server, handler, args);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void The_peer_cleaning_up_between_frames_is_a_clean_disconnect_and_later_sends_fail_closed(string transport)
    {
        using var pair = new ConnectedPair(transport);
        pair.Client.Send(FrameKind.Event, Json.Bytes("{\"event\": \"bye\"}"));
        Assert.Equal("{\"event\": \"bye\"}", Json.Text(pair.ServerHandler.Next().Payload));
        pair.Client.Cleanup();

        var (status, reason) = pair.ServerHandler.WaitDisconnected();
        Assert.Equal(IpcStatus.Ok, status);
        Assert.Contains("closed", reason);
        Assert.False(pair.Server.IsConnected);
        var e = Assert.Throws<IpcException>(() => pair.Server.Send(FrameKind.Command, Json.Bytes("{}")));
        Assert.Equal(IpcStatus.Closed, e.Status);

        // The end that cleaned up is told nothing: the host asked for it.
        Assert.False(pair.ClientHandler.Disconnected.Task.IsCompleted);
        pair.Server.Cleanup();
        SocketFiles.AssertGone(pair.Args);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_raw_peer_closing_between_frames_is_a_clean_disconnect(string transport)
    {
        var (server, handler, args) = Listening(transport);
        using (var raw = RawPeer.Connect(args))
        {
            raw.Send(Frames.Encode(FrameKind.Event, "{\"event\": \"one\"}"));
        }

        Assert.Equal("{\"event\": \"one\"}", Json.Text(handler.Next().Payload));
        Assert.Equal(IpcStatus.Ok, handler.WaitDisconnected().Status);
        server.Cleanup();
        SocketFiles.AssertGone(args);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_peer_sending_a_bad_magic_is_disconnected_with_a_protocol_error_and_its_connection_closed(string transport)
    {
        var (server, handler, args) = Listening(transport);
        using var raw = RawPeer.Connect(args);
        raw.Send("GET / HTTP/1.1\r\n\r\n"u8);

        var (status, reason) = handler.WaitDisconnected();
        Assert.Equal(IpcStatus.Protocol, status);
        Assert.Contains("magic", reason);
        Assert.True(RawPeer.SeesEndOfStream(raw), "the library kept the connection open after a protocol error");
        Assert.False(server.IsConnected);
        Assert.Equal(IpcStatus.Closed, Assert.Throws<IpcException>(() => server.Send(FrameKind.Command, Json.Bytes("{}"))).Status);
        Assert.Empty(handler.Messages);
        server.Cleanup();
        SocketFiles.AssertGone(args);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_peer_sending_a_bad_version_after_a_good_frame_is_disconnected_with_a_protocol_error(string transport)
    {
        var (server, handler, args) = Listening(transport);
        using var raw = RawPeer.Connect(args);
        byte[] bad = Frames.Encode(FrameKind.Event, "{}");
        bad[2] = 2;
        raw.Send(Frames.Concat(Frames.Encode(FrameKind.Event, "{\"good\": 1}"), bad));

        Assert.Equal("{\"good\": 1}", Json.Text(handler.Next().Payload));
        var (status, reason) = handler.WaitDisconnected();
        Assert.Equal(IpcStatus.Protocol, status);
        Assert.Contains("version", reason);
        Assert.True(RawPeer.SeesEndOfStream(raw));
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_peer_announcing_an_oversized_frame_is_disconnected_without_reading_it(string transport)
    {
        var (server, handler, args) = Listening(transport, max: 1024);
        using var raw = RawPeer.Connect(args);
        var header = new byte[8];
        FrameHeader.Write(header, FrameKind.Event, 0xFFFFFFFF);
        raw.Send(header);

        var (status, reason) = handler.WaitDisconnected();
        Assert.Equal(IpcStatus.FrameTooLarge, status);
        Assert.Contains("4294967295", reason);
        Assert.True(RawPeer.SeesEndOfStream(raw));
        server.Cleanup();
    }

    [Theory]
    [InlineData("unix", 1)]
    [InlineData("unix", 7)]
    [InlineData("unix", 11)]
    [InlineData("tcp", 1)]
    [InlineData("tcp", 7)]
    [InlineData("tcp", 11)]
    public void A_peer_vanishing_mid_frame_is_reported_as_closed(string transport, int bytes)
    {
        var (server, handler, args) = Listening(transport);
        using (var raw = RawPeer.Connect(args))
        {
            raw.Send(Frames.Encode(FrameKind.Event, "{\"event\": \"cut\"}")[..bytes]);
        }

        var (status, reason) = handler.WaitDisconnected();
        Assert.Equal(IpcStatus.Closed, status);
        Assert.Contains("middle of a frame", reason);
        Assert.Empty(handler.Messages);
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_handler_that_throws_does_not_end_the_connection(string transport)
    {
        using var pair = new ConnectedPair(transport);
        pair.ServerHandler.OnEach = (_, payload) =>
        {
            if (Json.Text(payload) == "{\"boom\": true}")
            {
                throw new InvalidOperationException("host bug");
            }
        };

        pair.Client.Send(FrameKind.Event, Json.Bytes("{\"boom\": true}"));
        pair.Client.Send(FrameKind.Event, Json.Bytes("{\"after\": true}"));
        Assert.Equal("{\"after\": true}", Json.Text(pair.ServerHandler.Next().Payload));
        Assert.True(pair.Server.IsConnected);
        Assert.False(pair.ServerHandler.Disconnected.Task.IsCompleted);
    }
}
