using DapperIpc.Framing;
using DapperIpc.Transports;
using DapperIpc.Transports.Pipe;

namespace DapperIpc.Tests;

/// <summary>
/// The pipe transport's framing and lifecycle, run here through .NET's named-pipe classes
/// (unix sockets underneath). Message mode, the DACL and remote-client rejection are in
/// WindowsPipeServer and WindowsPipeIo, which Windows and the Wine lane (tests/wine) run.
/// </summary>
public class PipeTransportTests
{
    private static readonly ConnectionOptions Options = new(FrameHeader.DefaultMaxPayload, -1, null);

    private static (PipeListener Listener, ConnectionBase Server, ConnectionBase Client) Connect(bool byFullPath = true)
    {
        var listener = PipeListener.Create(null, Options);
        string full = listener.LauncherArgs[3];
        var connecting = Task.Run(() => PipeConnector.Connect(byFullPath ? full : full[PipeName.Prefix.Length..], Options, 20_000, default));
        ConnectionBase server = listener.Accept((int)Wait.Long.TotalMilliseconds)!;
        Assert.True(connecting.Wait(Wait.Long));
        return (listener, server, connecting.Result);
    }

    [Fact]
    public void The_launcher_gets_the_full_pipe_path_with_a_random_name()
    {
        using var a = PipeListener.Create(null, Options);
        using var b = PipeListener.Create(null, Options);
        Assert.Equal(["--ipc", "pipe", "--ipc-pipe"], a.LauncherArgs.Take(3));
        Assert.Matches(@"^\\\\\.\\pipe\\dapper-[0-9a-f]{24}$", a.LauncherArgs[3]);
        Assert.NotEqual(a.LauncherArgs[3], b.LauncherArgs[3]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Frames_cross_the_pipe_whole_in_both_directions(bool byFullPath)
    {
        var (listener, server, client) = Connect(byFullPath);
        try
        {
            // Readers run before anything is sent: a 1 MiB frame is larger than the
            // pipe's buffer, so a send with nobody reading would never finish.
            var atServer = new StopAfter(2);
            var atClient = new StopAfter(1);
            using var serverReader = new FrameReader(FrameHeader.DefaultMaxPayload);
            using var clientReader = new FrameReader(FrameHeader.DefaultMaxPayload);
            var serverReading = Task.Run(() => serverReader.Run(server, atServer));
            var clientReading = Task.Run(() => clientReader.Run(client, atClient));

            client.SendFrame(FrameKind.Event, Json.Bytes("{\"event\": \"stopped\"}"));
            byte[] big = new byte[1024 * 1024 + 3];
            new Random(3).NextBytes(big);
            client.SendFrame(FrameKind.Event, big);
            server.SendFrame(FrameKind.Command, Json.Bytes("{\"seq\": 1}"));

            Assert.True(serverReading.Wait(Wait.Long), "the server did not get both frames");
            Assert.True(clientReading.Wait(Wait.Long), "the client did not get its frame");
            Assert.Equal(2, atServer.Frames.Count);
            Assert.Equal("{\"event\": \"stopped\"}", Json.Text(atServer.Frames[0].Payload));
            Assert.Equal(big, atServer.Frames[1].Payload);
            Assert.Equal("{\"seq\": 1}", Json.Text(Assert.Single(atClient.Frames).Payload));
        }
        finally
        {
            server.Dispose();
            client.Dispose();
            listener.Dispose();
        }
    }

    [Fact]
    public void Closing_one_end_is_end_of_file_at_the_other_and_sends_fail_closed()
    {
        var (listener, server, client) = Connect();
        server.Close();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        Assert.True(reader.Run(client, new FrameCollector()));
        Assert.Equal(IpcStatus.Closed, Assert.Throws<IpcException>(() => server.SendFrame(FrameKind.Command, [])).Status);
        server.Dispose();
        client.Dispose();
        listener.Dispose();
    }

    [Fact]
    public void Close_wakes_a_reader_blocked_on_the_pipe()
    {
        var (listener, server, client) = Connect();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        using var reading = new ManualResetEventSlim();
        var run = Task.Run(() =>
        {
            reading.Set();
            return reader.Run(server, new FrameCollector());
        });
        Assert.True(reading.Wait(Wait.Long));
        server.Close();
        Assert.True(run.Wait(Wait.Long), "the reader stayed blocked after Close");
        server.Dispose();
        client.Dispose();
        listener.Dispose();
    }

    [Fact]
    public void Accept_times_out_and_dispose_cancels_a_waiting_accept()
    {
        var listener = PipeListener.Create(null, Options);
        Assert.Null(listener.Accept(50));
        var waiting = Task.Run(() => Assert.Throws<IpcException>(() => listener.Accept(-1)));
        listener.Dispose();
        Assert.True(waiting.Wait(Wait.Long));
        Assert.Equal(IpcStatus.Cancelled, waiting.Result.Status);
    }

    [Fact]
    public void Connecting_to_a_pipe_nobody_serves_is_refused_after_the_timeout()
    {
        var e = Assert.Throws<IpcException>(() => PipeConnector.Connect(PipeName.Random(), Options, 100, default));
        Assert.Equal(IpcStatus.ConnectionRefused, e.Status);
        Assert.Equal(IpcStatus.InvalidArgument, Assert.Throws<IpcException>(() => PipeName.Bare(@"\\server\pipe\x")).Status);
    }

    /// <summary>Collects frames and stops the reader after the expected number.</summary>
    private sealed class StopAfter(int count) : PerFrameHandler
    {
        public List<(byte Kind, byte[] Payload)> Frames { get; } = [];

        public override bool OnFrame(byte kind, ReadOnlySpan<byte> payload)
        {
            Frames.Add((kind, payload.ToArray()));
            return Frames.Count < count;
        }
    }
}
