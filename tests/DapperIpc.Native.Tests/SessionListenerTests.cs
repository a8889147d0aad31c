using System.Net.Sockets;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;
using DapperIpc.Sessions;

namespace DapperIpc.Tests;

/// <summary>The session listener's routing in the managed core, with raw socket clients (the C and Python suites use child processes).</summary>
public class SessionListenerTests
{
    private static byte[] Frame(byte kind, string json)
    {
        byte[] payload = Json.Bytes(json);
        var frame = new byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(frame, kind, (uint)payload.Length);
        payload.CopyTo(frame, FrameHeader.Size);
        return frame;
    }

    private static byte[] Hello(string id) => Frame(FrameKind.Event,
        $$$"""{"event": "dapper/sessionHello", "body": {"sessionId": "{{{id}}}", "parentSessionId": "root", "pid": 7}}""");

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void A_hello_dribbled_a_byte_at_a_time_is_routed_and_the_frame_behind_it_stays_for_the_session(string transport)
    {
        using var listener = new SessionListener();
        IReadOnlyList<string> args = listener.Listen(new TransportConfig { Transport = transport });
        listener.Expect("slow");
        using Socket client = RawPeer.Connect(args);
        if (transport == "tcp")
        {
            client.NoDelay = true; // each byte its own segment
        }

        byte[] bytes = [.. Hello("slow"), .. Frame(FrameKind.Event, """{"event": "behind"}""")];
        foreach (byte b in bytes)
        {
            client.Send([b]);
        }

        using IPCManager manager = listener.Accept("slow", (int)Wait.Long.TotalMilliseconds);
        Assert.Equal(Hello("slow")[FrameHeader.Size..], manager.Hello);
        var buffer = new byte[256];
        var frames = new ReceivedFrame[1];
        Assert.Equal(IpcStatus.Ok, manager.Recv(buffer, frames, out int count, (int)Wait.Long.TotalMilliseconds));
        Assert.Equal(1, count);
        Assert.Equal(FrameKind.Event, frames[0].Kind);
        Assert.Equal("""{"event": "behind"}""", Json.Text(buffer[frames[0].Offset..(frames[0].Offset + frames[0].Length)]));
        manager.Send(FrameKind.Command, Json.Bytes("""{"command": "go"}"""));
        Assert.Equal(Frame(FrameKind.Command, """{"command": "go"}"""), RawPeer.ReceiveExactly(client, FrameHeader.Size + 17));
    }

    [Fact]
    public void A_silent_client_does_not_hold_up_a_session_that_connects_after_it()
    {
        using var listener = new SessionListener();
        // A deadline far beyond the accept's wait: were the accepting thread stuck on the
        // silent client, the second session could not be routed in time.
        listener.SetHelloLimits(timeoutMs: 600_000, maxSize: 4096);
        IReadOnlyList<string> args = listener.Listen(new TransportConfig());
        listener.Expect("prompt");
        using Socket silent = RawPeer.Connect(args);
        using Socket prompt = RawPeer.Connect(args);
        prompt.Send(Hello("prompt"));
        using IPCManager manager = listener.Accept("prompt", (int)Wait.Long.TotalMilliseconds);
        Assert.True(manager.IsConnected);
    }

    [Fact]
    public void An_expected_id_can_be_expected_again_once_its_session_was_cleaned_up()
    {
        using var listener = new SessionListener();
        IReadOnlyList<string> args = listener.Listen(new TransportConfig());
        listener.Expect("again");
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => listener.Expect("again")).Status);
        using (Socket first = RawPeer.Connect(args))
        {
            first.Send(Hello("again"));
            IPCManager manager = listener.Accept("again", (int)Wait.Long.TotalMilliseconds);
            Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => listener.Expect("again")).Status);
            first.Close();
            manager.Cleanup();
        }

        listener.Expect("again");
        using Socket second = RawPeer.Connect(args);
        second.Send(Hello("again"));
        using IPCManager next = listener.Accept("again", (int)Wait.Long.TotalMilliseconds);
        Assert.True(next.IsConnected);
    }

    [Fact]
    public void Dispose_while_a_thread_waits_in_accept_ends_the_wait_with_Cancelled()
    {
        var listener = new SessionListener();
        listener.Listen(new TransportConfig());
        listener.Expect("never");
        var waiting = Task.Run(() => Assert.Throws<IpcException>(() => listener.Accept("never", -1)));
        // The accept is under way or about to be: either way Dispose must end it.
        listener.Dispose();
        Assert.True(waiting.Wait(Wait.Long), "accept did not return after dispose");
        Assert.Equal(IpcStatus.Cancelled, waiting.Result.Status);
    }
}
