using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

public class SendTimeoutTests
{
    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void A_peer_that_stops_reading_makes_send_fail_with_its_own_status_instead_of_blocking(string transport)
    {
        // The server accepts but never starts a reader: nobody drains the socket.
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = transport });
        var client = new IPCManager();
        var config = ConnectedPair.ClientConfig(args);
        config.SendTimeoutMs = 200;
        client.Connect(config);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);

        byte[] chunk = new byte[256 * 1024];
        IpcException? failure = null;
        for (int i = 0; i < 10_000 && failure is null; i++)
        {
            try
            {
                client.Send(FrameKind.Event, chunk);
            }
            catch (IpcException e)
            {
                failure = e;
            }
        }

        Assert.NotNull(failure);
        Assert.Equal(IpcStatus.SendTimeout, failure.Status);
        if (failure.StreamCut)
        {
            // Part of a frame went out: the connection cannot carry another frame.
            Assert.Equal(IpcStatus.Closed, Assert.Throws<IpcException>(() => client.Send(FrameKind.Event, [])).Status);
        }

        client.Cleanup();
        server.Cleanup();
    }
}

[Collection("Log")]
public class AuthTests
{
    [Theory]
    [InlineData("tcp")]
    [InlineData("unix")]
    public void A_client_with_the_token_is_accepted_and_its_frames_follow_the_handshake(string transport)
    {
        var server = new IPCManager();
        var handler = new RecordingHandler();
        server.SetHandler(handler);
        var args = server.CreateListener(new TransportConfig { Transport = transport, RequireAuth = true });
        Assert.Matches("^[0-9a-f]{64}$", server.AuthToken);
        Assert.DoesNotContain(server.AuthToken, string.Join(" ", args));
        server.StartReader();

        var client = new IPCManager();
        var config = ConnectedPair.ClientConfig(args);
        config.AuthToken = server.AuthToken;
        client.Connect(config);
        client.Send(FrameKind.Event, Json.Bytes("{\"event\": \"first\"}"));

        // The handshake frame is consumed by the listener; the host sees only what follows.
        Assert.Equal("{\"event\": \"first\"}", Json.Text(handler.Next().Payload));
        client.Cleanup();
        server.Cleanup();
    }

    [Fact]
    public void A_client_without_the_token_is_refused_and_logged_and_the_listener_keeps_waiting()
    {
        using var capture = new LogCapture();
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = "tcp", RequireAuth = true });

        using (var intruder = ManagerLifecycleTests.RawClient(args))
        {
            intruder.Send(Frames.Encode(FrameKind.Event, "{\"event\": \"dapper/auth\", \"token\": \"guess\"}"));
            Assert.Equal(IpcStatus.Timeout, Assert.Throws<IpcException>(() => server.WaitForClient(1000)).Status);
            Assert.Equal(0, intruder.Receive(new byte[8]));
        }

        Assert.Contains(capture.Entries, e => e.Level == Diagnostics.LogLevel.Warning && e.Message.Contains("token is wrong"));

        var client = new IPCManager();
        var config = ConnectedPair.ClientConfig(args);
        config.AuthToken = server.AuthToken;
        client.Connect(config);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        Assert.True(server.IsConnected);
        client.Cleanup();
        server.Cleanup();
    }

    [Fact]
    public void Without_require_auth_there_is_no_token_and_plain_launchers_connect()
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = "tcp" });
        Assert.Equal(IpcStatus.InvalidState, Assert.Throws<IpcException>(() => _ = server.AuthToken).Status);
        using var plain = ManagerLifecycleTests.RawClient(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        server.Cleanup();
    }
}
