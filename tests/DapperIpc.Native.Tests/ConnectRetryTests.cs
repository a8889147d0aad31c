using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Tests;

/// <summary>
/// A client that arrives before the listener keeps retrying (as the launcher does). The
/// connector logs each retry, so these tests know the first attempt has failed before
/// they create the listener.
/// </summary>
[Collection("Log")]
public sealed class ConnectRetryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dapper-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A listener config and the matching client config for an address nobody listens on yet.</summary>
    private (TransportConfig Listen, TransportConfig Connect) NotYetListening(string transport)
    {
        if (transport == "unix")
        {
            string path = Path.Combine(_dir, "late.sock");
            return (new TransportConfig { Transport = "unix", Path = path },
                new TransportConfig { Transport = "unix", Path = path, ConnectTimeoutMs = (int)Wait.Long.TotalMilliseconds });
        }

        int port = ClosedPort.Take();

        return (new TransportConfig { Transport = "tcp", Port = port },
            new TransportConfig { Transport = "tcp", Port = port, ConnectTimeoutMs = (int)Wait.Long.TotalMilliseconds });
    }

    [Fact]
    public void Giving_up_on_a_missing_socket_file_says_so()
    {
        string path = Path.Combine(_dir, "nobody.sock");
        var e = Assert.Throws<IpcException>(() => TransportFactory.CreateConnection(
            new TransportConfig { Transport = "unix", Path = path, ConnectTimeoutMs = 100 }));
        Assert.Equal(IpcStatus.ConnectionRefused, e.Status);
        Assert.Contains(path, e.Message);
        Assert.Contains("no socket file at " + path, e.Message);
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void A_client_that_starts_before_the_listener_connects_thanks_to_retries(string transport)
    {
        using var capture = new LogCapture();
        var (listen, connect) = NotYetListening(transport);
        var connecting = Task.Run(() => TransportFactory.CreateConnection(connect));

        Assert.True(capture.Retried.Wait(Wait.Long), "the client never retried");
        Assert.False(connecting.IsCompleted, "the client gave up instead of retrying");
        using var listener = TransportFactory.CreateListener(listen);
        Assert.True(connecting.Wait(Wait.Long), "the client did not connect once the listener was there");
        using var connection = connecting.Result;
        using var accepted = listener.Accept((int)Wait.Long.TotalMilliseconds);
        Assert.NotNull(accepted);

        connection.SendFrame(FrameKind.Event, Json.Bytes("{\"event\": \"late\"}"));
        connection.Close();
        var frames = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        Assert.True(reader.Run(accepted, frames));
        Assert.Equal("{\"event\": \"late\"}", Json.Text(Assert.Single(frames.Frames).Payload));
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void A_manager_connecting_before_the_listener_exists_connects_and_talks_once_it_does(string transport)
    {
        using var capture = new LogCapture();
        var (listen, connect) = NotYetListening(transport);
        var client = new IPCManager();
        var clientHandler = new RecordingHandler();
        client.SetHandler(clientHandler);
        var connecting = Task.Run(() => client.Connect(connect));

        Assert.True(capture.Retried.Wait(Wait.Long), "the client never retried");
        var server = new IPCManager();
        var serverHandler = new RecordingHandler();
        server.SetHandler(serverHandler);
        var args = server.CreateListener(listen);
        server.StartReader();
        Assert.True(connecting.Wait(Wait.Long), "connect did not return once the listener was there");
        Assert.Null(connecting.Exception);
        client.StartReader();

        Assert.True(serverHandler.Connected.Wait(Wait.Long));
        client.Send(FrameKind.Event, Json.Bytes("{\"event\": \"hello\"}"));
        Assert.Equal("{\"event\": \"hello\"}", Json.Text(serverHandler.Next().Payload));
        server.Send(FrameKind.Command, Json.Bytes("{\"command\": \"configurationDone\"}"));
        Assert.Equal("{\"command\": \"configurationDone\"}", Json.Text(clientHandler.Next().Payload));

        client.Cleanup();
        server.Cleanup();
        if (transport == "unix")
        {
            Assert.True(SocketFiles.IsGone(args[3]), $"{args[3]} was left behind");
        }
    }

    [Fact]
    public void Cleanup_on_another_thread_cancels_a_connect_that_is_still_retrying_and_the_manager_stays_usable()
    {
        using var capture = new LogCapture();
        var client = new IPCManager();
        string path = Path.Combine(_dir, "nobody.sock");
        var connecting = Task.Run(() => Assert.Throws<IpcException>(
            () => client.Connect(new TransportConfig { Transport = "unix", Path = path, ConnectTimeoutMs = 60_000 })));

        // The connector logs each retry: once one is logged, the connect is under way.
        Assert.True(capture.Retried.Wait(Wait.Long), "connect never retried");
        client.Cleanup();
        Assert.True(connecting.Wait(Wait.Long), "connect did not return after cleanup");
        Assert.Equal(IpcStatus.Cancelled, connecting.Result.Status);

        var args = client.CreateListener(new TransportConfig { Transport = "unix" });
        Assert.Equal("unix", args[1]);
        client.Cleanup();
        Assert.True(SocketFiles.IsGone(args[3]), $"{args[3]} was left behind");
    }
}
