using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

/// <summary>
/// A send on a listener whose client has not arrived yet waits for the
/// client (bounded by the config's client wait, 10 s by default) and then sends, instead
/// of failing with NotConnected and losing the command.
/// </summary>
public class SendWaitsForClientTests
{
    public static TheoryData<string> Transports => ["unix", "tcp"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_send_before_the_client_arrives_waits_for_it_and_then_sends(string transport)
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = transport });
        var send = Task.Run(() => server.Send(FrameKind.Command, Json.Bytes("{\"command\": \"setBreakpoints\"}")));
        // The sender itself accepts (no reader runs): once it is accepting, the client comes.
        ManagerProbe.WaitUntilAccepting(server);
        Assert.False(send.IsCompleted);
        using var raw = RawPeer.Connect(args);
        Assert.True(send.Wait(Wait.Long), "the send did not finish once the client arrived");
        Assert.Equal(Frames.Encode(FrameKind.Command, "{\"command\": \"setBreakpoints\"}"),
            RawPeer.ReceiveExactly(raw, 8 + "{\"command\": \"setBreakpoints\"}".Length));
        server.Cleanup();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Cleanup_while_a_send_waits_for_a_client_cancels_the_send_at_once(string transport)
    {
        var server = new IPCManager();
        server.CreateListener(new TransportConfig { Transport = transport });
        var send = Task.Run(() => server.Send(FrameKind.Command, Json.Bytes("{}")));
        ManagerProbe.WaitUntilAccepting(server);
        server.Cleanup();
        var e = Assert.Throws<AggregateException>(() => send.Wait(Wait.Long));
        Assert.Equal(IpcStatus.Cancelled, Assert.IsType<IpcException>(e.InnerException).Status);
    }

    [Fact]
    public void A_send_gives_up_after_the_client_wait_and_the_listener_stays_usable()
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = "unix", ClientWaitMs = 50 });
        var e = Assert.Throws<IpcException>(() => server.Send(FrameKind.Command, Json.Bytes("{}")));
        Assert.Equal(IpcStatus.Timeout, e.Status);
        Assert.Contains("no client connected within 50 ms", e.Message);
        using var raw = RawPeer.Connect(args);
        server.Send(FrameKind.Command, Json.Bytes("{}"));
        Assert.Equal(Frames.Encode(FrameKind.Command, "{}"), RawPeer.ReceiveExactly(raw, 10));
        server.Cleanup();
    }

    [Fact]
    public void A_negative_client_wait_fails_at_once_with_not_connected()
    {
        var server = new IPCManager();
        server.CreateListener(new TransportConfig { Transport = "unix", ClientWaitMs = -1 });
        var e = Assert.Throws<IpcException>(() => server.Send(FrameKind.Command, Json.Bytes("{}")));
        Assert.Equal(IpcStatus.NotConnected, e.Status);
        Assert.False(server.IsAccepting);
        server.Cleanup();
    }
}
