using System.Buffers.Binary;
using DapperIpc.Framing;

namespace DapperIpc.Tests;

public class ManagerConcurrencyTests
{
    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void Eight_threads_sending_at_once_never_interleave_frames(string transport)
    {
        const int threads = 8, perThread = 2000;
        using var pair = new ConnectedPair(transport);
        using var go = new Barrier(threads);

        var senders = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            // Frames of varying size, so a torn write would shift every later header.
            var payload = new byte[8 + (t * 97 % 700)];
            go.SignalAndWait();
            for (int i = 0; i < perThread; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(payload, t);
                BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), i);
                payload.AsSpan(8).Fill((byte)(t + i));
                pair.Client.Send(FrameKind.Event, payload);
            }
        })).ToList();
        senders.ForEach(s => s.Start());

        var next = new int[threads];
        for (int n = 0; n < threads * perThread; n++)
        {
            byte[] p = pair.ServerHandler.Next().Payload;
            int t = BinaryPrimitives.ReadInt32BigEndian(p);
            int i = BinaryPrimitives.ReadInt32BigEndian(p.AsSpan(4));
            Assert.Equal(8 + (t * 97 % 700), p.Length);
            Assert.Equal(next[t], i);
            Assert.True(p.AsSpan(8).IndexOfAnyExcept((byte)(t + i)) < 0, "payload torn");
            next[t]++;
        }

        senders.ForEach(s => Assert.True(s.Join(Wait.Long)));
        Assert.All(next, count => Assert.Equal(perThread, count));
        Assert.Empty(pair.ServerHandler.Messages);
        Assert.True(pair.Server.IsConnected);
    }

    [Fact]
    public void Sends_racing_with_cleanup_either_succeed_or_fail_with_a_status()
    {
        using var pair = new ConnectedPair("unix");
        using var go = new Barrier(5);
        var failures = new System.Collections.Concurrent.ConcurrentBag<IpcStatus>();
        var senders = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            go.SignalAndWait();
            for (int i = 0; i < 20_000; i++)
            {
                try
                {
                    pair.Client.Send(FrameKind.Event, Json.Bytes("{\"event\": \"race\"}"));
                }
                catch (IpcException e)
                {
                    failures.Add(e.Status);
                    return;
                }
            }
        })).ToList();
        senders.ForEach(s => s.Start());
        go.SignalAndWait();
        pair.Client.Cleanup();

        senders.ForEach(s => Assert.True(s.Join(Wait.Long)));
        Assert.All(failures, s => Assert.Contains(s, new[] { IpcStatus.Closed, IpcStatus.NotConnected }));
    }
}
