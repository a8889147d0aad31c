using System.Runtime.InteropServices;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;
using DapperIpc.Transports;

namespace DapperIpc.Tests;

public unsafe class BatchSendTests
{
    /// <summary>Payloads laid out in one pinned array, as a C caller's would be in its own memory.</summary>
    private sealed class Batch
    {
        private readonly byte[] _memory;
        private readonly (int Offset, int Length)[] _spans;

        public Batch(IEnumerable<string> payloads)
        {
            byte[][] bytes = payloads.Select(Json.Bytes).ToArray();
            _memory = GC.AllocateArray<byte>(Math.Max(1, bytes.Sum(b => b.Length)), pinned: true);
            _spans = new (int, int)[bytes.Length];
            int at = 0;
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i].CopyTo(_memory, at);
                _spans[i] = (at, bytes[i].Length);
                at += bytes[i].Length;
            }
        }

        public NativeFrame[] Frames(byte kind)
        {
            byte* start = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_memory, 0);
            return _spans.Select(s => new NativeFrame(kind, start + s.Offset, (nuint)s.Length)).ToArray();
        }
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void Batches_and_single_sends_from_many_threads_never_interleave(string transport)
    {
        using var pair = new ConnectedPair(transport);
        const int threads = 8, batches = 100, perBatch = 40;
        using var go = new Barrier(threads);
        var senders = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            go.SignalAndWait();
            for (int b = 0; b < batches; b++)
            {
                var batch = new Batch(Enumerable.Range(0, perBatch).Select(i => $"{{\"t\": {t}, \"n\": {b * perBatch + i}}}"));
                if (t % 2 == 0)
                {
                    pair.Client.SendFrames(batch.Frames(FrameKind.Event));
                }
                else
                {
                    // The odd threads send one frame at a time, racing the batches.
                    for (int i = 0; i < perBatch; i++)
                    {
                        pair.Client.Send(FrameKind.Event, Json.Bytes($"{{\"t\": {t}, \"n\": {b * perBatch + i}}}"));
                    }
                }
            }
        })).ToList();
        senders.ForEach(s => s.Start());
        senders.ForEach(s => Assert.True(s.Join(Wait.Long)));

        var next = new int[threads];
        int previousThread = -1;
        for (int n = 0; n < threads * batches * perBatch; n++)
        {
            var doc = System.Text.Json.JsonDocument.Parse(pair.ServerHandler.Next().Payload).RootElement;
            int t = doc.GetProperty("t").GetInt32();
            int seq = doc.GetProperty("n").GetInt32();
            Assert.Equal(next[t]++, seq);
            if (t % 2 == 0 && seq % perBatch != 0)
            {
                // Inside a batch: no other sender's frame may come between its frames.
                Assert.Equal(t, previousThread);
            }

            previousThread = t;
        }

        Assert.All(next, count => Assert.Equal(batches * perBatch, count));
    }

    [Fact]
    public void A_bad_frame_anywhere_fails_the_batch_before_anything_is_sent()
    {
        using var pair = new ConnectedPair("unix", serverMax: 1024, clientMax: 1024);
        var batch = new Batch(["{\"a\": 1}", new string('x', 2000), "{\"c\": 3}"]);
        var e = Assert.Throws<IpcException>(() => pair.Client.SendFrames(batch.Frames(FrameKind.Event)));
        Assert.Equal(IpcStatus.FrameTooLarge, e.Status);
        Assert.Contains("frame 1", e.Message);
        Assert.Equal(0, e.FramesSent);

        var nullPayload = new[] { new NativeFrame(FrameKind.Event, null, 4) };
        Assert.Equal(IpcStatus.InvalidArgument, Assert.Throws<IpcException>(() => pair.Client.SendFrames(nullPayload)).Status);

        // The connection is intact: the next frame is the first the server sees.
        pair.Client.Send(FrameKind.Event, Json.Bytes("{\"after\": true}"));
        Assert.Equal("{\"after\": true}", Json.Text(pair.ServerHandler.Next().Payload));
    }

    [Fact]
    public void A_batch_before_a_client_is_connected_is_not_connected_and_the_listener_stays()
    {
        var server = new IPCManager();
        var args = server.CreateListener(new TransportConfig { Transport = "unix", ClientWaitMs = -1 });
        var frames = new Batch(["{}"]).Frames(FrameKind.Command);
        var e = Assert.Throws<IpcException>(() => server.SendFrames(frames));
        Assert.Equal(IpcStatus.NotConnected, e.Status);
        Assert.Equal(0, e.FramesSent);
        using var client = RawPeer.Connect(args);
        server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        server.SendFrames(frames);
        Assert.Equal("{}", Json.Text(RawPeer.ReceiveExactly(client, FrameHeader.Size + 2)[FrameHeader.Size..]));
        server.Cleanup();
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void A_send_timeout_mid_batch_reports_how_many_frames_went_out(string transport)
    {
        // The server accepts but does not read until the batch has timed out.
        using var pair = new ConnectedPair(transport, startReaders: false, clientSendTimeoutMs: 200);
        var (server, client, handler) = (pair.Server, pair.Client, pair.ServerHandler);

        const int Count = 200_000; // ~24 MB: far more than the socket buffers hold
        var batch = new Batch(Enumerable.Range(0, Count).Select(i => $"{{\"n\": {i,9}, \"pad\": \"{new string('p', 80)}\"}}"));
        NativeFrame[] frames = batch.Frames(FrameKind.Event);
        var e = Assert.Throws<IpcException>(() => client.SendFrames(frames));
        Assert.Equal(IpcStatus.SendTimeout, e.Status);
        int sent = e.FramesSent;
        Assert.InRange(sent, 1, Count - 1);

        server.StartReader();
        if (e.StreamCut)
        {
            // A frame went out in part: the connection is closed, and the server gets the whole frames before it.
            Assert.Equal(IpcStatus.Closed, Assert.Throws<IpcException>(() => client.Send(FrameKind.Event, [])).Status);
        }
        else
        {
            // Stopped between frames: resume where it stopped, and nothing is lost or repeated.
            // The send timeout is one deadline per call, so the rest (up to ~24 MB) may take
            // several calls, each resuming where the previous one stopped.
            while (sent < Count)
            {
                try
                {
                    client.SendFrames(frames.AsSpan(sent));
                    sent = Count;
                }
                catch (IpcException again) when (again.Status == IpcStatus.SendTimeout)
                {
                    sent += again.FramesSent;
                    if (again.StreamCut)
                    {
                        break; // the frames before the cut arrive; the connection is closed
                    }
                }
            }
        }

        for (int i = 0; i < sent; i++)
        {
            var doc = System.Text.Json.JsonDocument.Parse(handler.Next().Payload).RootElement;
            Assert.Equal(i, doc.GetProperty("n").GetInt32());
        }
    }
}
