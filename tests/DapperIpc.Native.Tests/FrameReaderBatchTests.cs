using DapperIpc.Framing;

namespace DapperIpc.Tests;

/// <summary>FrameReader's batches: the whole frames of each read in one call.</summary>
public unsafe class FrameReaderBatchTests
{
    private sealed class BatchCollector : IFrameHandler
    {
        public List<List<(byte Kind, string Payload)>> Batches { get; } = [];

        public bool OnFrames(ReadOnlySpan<NativeFrame> frames)
        {
            var batch = new List<(byte, string)>();
            foreach (var f in frames)
            {
                Assert.True(f.Payload != null, "a payload pointer is never NULL");
                batch.Add(((byte)f.Kind, System.Text.Encoding.UTF8.GetString(f.Payload, (int)f.Length)));
            }

            Batches.Add(batch);
            return true;
        }
    }

    private static byte[] Numbered(int from, int to) => Frames.Concat(
        Enumerable.Range(from, to - from).Select(i => Frames.Encode(i % 2 == 0 ? FrameKind.Event : FrameKind.Command, $"{i}")).ToArray());

    [Fact]
    public void Each_read_is_one_batch_and_a_split_frame_waits_for_its_rest()
    {
        byte[] three = Numbered(0, 3), two = Numbered(3, 5);
        byte[] stream = Frames.Concat(three, two, Frames.Encode(FrameKind.Event, ""));
        var handler = new BatchCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        // Reads: the first three frames and 2 bytes of the fourth; the rest of the fourth and the fifth; the empty one.
        Assert.True(reader.Run(new ScriptedConnection(stream, three.Length + 2, two.Length - 2, FrameHeader.Size), handler));
        Assert.Equal([3, 2, 1], handler.Batches.Select(b => b.Count));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"{i}").Append(""), handler.Batches.SelectMany(b => b).Select(f => f.Payload));
        Assert.Equal([FrameKind.Event, FrameKind.Command, FrameKind.Event], handler.Batches[0].Select(f => f.Kind));
    }

    [Fact]
    public void More_frames_than_a_batch_holds_come_in_several_calls_in_order()
    {
        int count = FrameReader.BatchSize * 2 + 5;
        var handler = new BatchCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        Assert.True(reader.Run(new ScriptedConnection(Numbered(0, count), int.MaxValue), handler));
        Assert.Equal([FrameReader.BatchSize, FrameReader.BatchSize, 5], handler.Batches.Select(b => b.Count));
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"{i}"), handler.Batches.SelectMany(b => b).Select(f => f.Payload));
    }

    [Fact]
    public void The_frames_before_a_bad_header_are_delivered_then_the_error()
    {
        byte[] bad = [(byte)'X', (byte)'P', 1, 1, 0, 0, 0, 0];
        var handler = new BatchCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        var e = Assert.Throws<IpcException>(() => reader.Run(new ScriptedConnection(Frames.Concat(Numbered(0, 2), bad), int.MaxValue), handler));
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Equal(["0", "1"], Assert.Single(handler.Batches).Select(f => f.Payload));
    }
}
