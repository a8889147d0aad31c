using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

/// <summary>Opt-in token auth: a listener that requires it accepts only clients that present the token.</summary>
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
        IntruderIsRefusedAndTheListenerKeepsWaiting(Frames.Encode(FrameKind.Event, "{\"event\": \"dapper/auth\", \"token\": \"guess\"}"));
        Assert.Contains(capture.Entries, e => e.Level == Diagnostics.LogLevel.Warning && e.Message.Contains("token is wrong"));
    }

    [Fact]
    public void A_token_that_is_not_utf8_is_refused_and_the_listener_keeps_waiting()
    {
        // Found by the token-handshake fuzz target (tests/fuzz/crashes/token-handshake): the
        // token's bytes were decoded with GetString, which throws InvalidOperationException
        // on invalid UTF-8, and that escaped the accept loop: any local process could make
        // wait_for_client fail instead of being refused.
        byte[] payload = Frames.Concat("{\"event\": \"dapper/auth\", \"token\": \""u8.ToArray(), [0xFF], "\"}"u8.ToArray());
        IntruderIsRefusedAndTheListenerKeepsWaiting(Frames.Encode(FrameKind.Event, payload));
    }

    /// <summary>
    /// A client whose first frame is <paramref name="firstFrame"/> is closed without counting
    /// as the listener's client; a client with the token is accepted after it.
    /// </summary>
    private static void IntruderIsRefusedAndTheListenerKeepsWaiting(byte[] firstFrame)
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = "tcp", RequireAuth = true });

        using (var intruder = RawPeer.Connect(args))
        {
            intruder.Send(firstFrame);
            Assert.Equal(IpcStatus.Timeout, Assert.Throws<IpcException>(() => server.WaitForClient(1000)).Status);
            Assert.Equal(0, intruder.Receive(new byte[8]));
        }

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
        using var plain = RawPeer.Connect(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        server.Cleanup();
    }
}
