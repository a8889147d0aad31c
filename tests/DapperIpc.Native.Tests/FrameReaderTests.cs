using DapperIpc.Framing;

namespace DapperIpc.Tests;

/// <summary>
/// FrameReader over a scripted byte source: how frames are reassembled from reads of
/// any size, and how a bad or truncated stream ends. The transports are real elsewhere.
/// </summary>
public class FrameReaderTests
{
    private static FrameCollector Read(byte[] stream, params int[] chunks)
    {
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        Assert.True(reader.Run(new ScriptedConnection(stream, chunks), handler), "the stream did not end cleanly between frames");
        return handler;
    }

    private static IpcException ReadFails(byte[] stream, FrameCollector? handler = null, uint max = FrameHeader.DefaultMaxPayload)
    {
        using var reader = new FrameReader(max);
        return Assert.Throws<IpcException>(() => reader.Run(new ScriptedConnection(stream), handler ?? new FrameCollector()));
    }

    [Theory]
    [InlineData(0, 4096)]
    [InlineData(1, 4096)]
    [InlineData(128, 4096)]
    [InlineData(70_000, 4096)]
    [InlineData(5 * 1024 * 1024, 4096)]
    [InlineData(5 * 1024 * 1024, int.MaxValue)]
    public void Payloads_of_any_size_arrive_whole(int size, int chunk)
    {
        byte[] payload = Enumerable.Range(0, size).Select(i => (byte)(i * 31 + (i >> 8))).ToArray();
        var frame = Assert.Single(Read(Frames.Encode(FrameKind.Event, payload), chunk).Frames);
        Assert.Equal(FrameKind.Event, frame.Kind);
        Assert.Equal(payload, frame.Payload);
    }

    [Fact]
    public void A_frame_split_at_every_byte_position_is_reassembled()
    {
        byte[] frame = Frames.Encode(FrameKind.Command, "{\"seq\": 1, \"command\": \"next\"}");
        for (int split = 1; split < frame.Length; split++)
        {
            var got = Assert.Single(Read(frame, split, frame.Length).Frames);
            Assert.Equal(FrameKind.Command, got.Kind);
            Assert.Equal(frame.AsSpan(FrameHeader.Size).ToArray(), got.Payload);
        }
    }

    [Fact]
    public void A_header_split_in_three_reads_at_every_pair_of_positions_is_reassembled()
    {
        byte[] frame = Frames.Encode(FrameKind.Event, "{\"event\": \"x\"}");
        for (int first = 1; first < FrameHeader.Size; first++)
        {
            for (int second = first + 1; second <= FrameHeader.Size; second++)
            {
                var got = Assert.Single(Read(frame, first, second - first, frame.Length).Frames);
                Assert.Equal("{\"event\": \"x\"}", Json.Text(got.Payload));
            }
        }
    }

    [Fact]
    public void A_second_frame_whose_header_is_cut_by_the_read_boundary_is_reassembled_at_every_position()
    {
        byte[] a = Frames.Encode(FrameKind.Event, "{\"a\": 1}");
        byte[] b = Frames.Encode(FrameKind.Command, "{\"b\": 22}");
        byte[] stream = Frames.Concat(a, b);
        for (int split = a.Length + 1; split < a.Length + FrameHeader.Size; split++)
        {
            var frames = Read(stream, split, stream.Length).Frames;
            Assert.Equal([(FrameKind.Event, "{\"a\": 1}"), (FrameKind.Command, "{\"b\": 22}")],
                frames.Select(f => (f.Kind, Json.Text(f.Payload))));
        }
    }

    [Fact]
    public void A_stream_dribbled_one_byte_per_read_arrives_whole()
    {
        byte[] stream = Frames.Concat(Frames.Encode(1, "{\"a\": 1}"), Frames.Encode(2, "{\"b\": 2}"));
        Assert.Equal(["{\"a\": 1}", "{\"b\": 2}"], Read(stream, 1).Frames.Select(f => Json.Text(f.Payload)));
    }

    [Fact]
    public void Several_frames_in_one_read_are_all_dispatched_in_order()
    {
        byte[][] frames = Enumerable.Range(0, 500).Select(i => Frames.Encode((byte)(1 + i % 2), $"{{\"i\": {i}}}")).ToArray();
        var got = Read(Frames.Concat(frames)).Frames;
        Assert.Equal(Enumerable.Range(0, 500).Select(i => ((byte)(1 + i % 2), $"{{\"i\": {i}}}")),
            got.Select(f => (f.Kind, Json.Text(f.Payload))));
    }

    [Fact]
    public void A_large_frame_after_small_ones_in_the_same_read_arrives_whole()
    {
        byte[] big = new byte[3 * 1024 * 1024 + 5];
        new Random(11).NextBytes(big);
        byte[] stream = Frames.Concat(Frames.Encode(1, "{\"a\": 1}"), Frames.Encode(1, big), Frames.Encode(2, "{}"));
        var got = Read(stream, 100_000).Frames;
        Assert.Equal(3, got.Count);
        Assert.Equal(big, got[1].Payload);
        Assert.Equal("{}", Json.Text(got[2].Payload));
    }

    [Fact]
    public void A_zero_length_payload_is_legal_framing()
    {
        var got = Read(Frames.Concat(Frames.Encode(1, []), Frames.Encode(2, "{}"), Frames.Encode(1, []))).Frames;
        Assert.Equal(3, got.Count);
        Assert.Empty(got[0].Payload);
        Assert.Equal("{}", Json.Text(got[1].Payload));
        Assert.Empty(got[2].Payload);
    }

    [Fact]
    public void A_payload_that_is_not_utf8_json_is_delivered_intact_and_the_next_frame_still_parses()
    {
        byte[] garbage = [0xff, 0xfe, 0x00, 0x80, (byte)'{', 0xc3, 0x28, (byte)'D', (byte)'P', 1];
        var got = Read(Frames.Concat(Frames.Encode(1, garbage), Frames.Encode(2, "{\"ok\": true}"))).Frames;
        Assert.Equal(garbage, got[0].Payload);
        Assert.Equal((FrameKind.Command, "{\"ok\": true}"), (got[1].Kind, Json.Text(got[1].Payload)));
    }

    [Fact]
    public void A_handler_that_asks_to_stop_ends_the_run_without_reading_further()
    {
        byte[] stream = Frames.Concat(Frames.Encode(1, "{\"a\": 1}"), Frames.Encode(1, "{\"b\": 2}"));
        int calls = 0;
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        bool clean = reader.Run(new ScriptedConnection(stream), new StopAfterFirst(() => calls++));
        Assert.False(clean);
        Assert.Equal(1, calls);
    }

    [Theory]
    [InlineData(new byte[] { 0x45, 0x50, 1, 1, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 0x44, 0x51, 1, 1, 0, 0, 0, 0 })]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)'\n' })]
    public void A_wrong_magic_is_a_protocol_error(byte[] header)
    {
        var e = ReadFails(header);
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Contains("magic", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(255)]
    public void A_wrong_version_is_a_protocol_error(byte version)
    {
        var e = ReadFails([0x44, 0x50, version, 1, 0, 0, 0, 0]);
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Contains("version", e.Message);
    }

    [Fact]
    public void A_bad_header_after_a_good_frame_delivers_the_good_frame_then_fails()
    {
        var handler = new FrameCollector();
        var e = ReadFails(Frames.Concat(Frames.Encode(1, "{\"good\": 1}"), "XX\u0001\u0001\0\0\0\0"u8.ToArray()), handler);
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Equal("{\"good\": 1}", Json.Text(Assert.Single(handler.Frames).Payload));
    }

    [Theory]
    [InlineData(1025u)]
    [InlineData(64u * 1024 * 1024 + 1)]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(0xFFFFFFFFu)]
    public void A_length_above_the_maximum_is_refused_before_anything_is_allocated(uint length)
    {
        var header = new byte[8];
        FrameHeader.Write(header, 1, length);
        using var reader = new FrameReader(1024);
        int capacity = reader.Capacity;
        var e = Assert.Throws<IpcException>(() => reader.Run(new ScriptedConnection(header), new FrameCollector()));
        Assert.Equal(IpcStatus.FrameTooLarge, e.Status);
        Assert.Equal(capacity, reader.Capacity);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public void A_peer_that_closes_inside_a_header_is_reported_as_closed(int bytes)
    {
        byte[] frame = Frames.Encode(1, "{}");
        var e = ReadFails(frame[..bytes]);
        Assert.Equal(IpcStatus.Closed, e.Status);
        Assert.Contains("header", e.Message);

        // The same after a whole frame: the whole one is delivered first.
        var handler = new FrameCollector();
        e = ReadFails(Frames.Concat(Frames.Encode(2, "{\"first\": 1}"), frame[..bytes]), handler);
        Assert.Equal(IpcStatus.Closed, e.Status);
        Assert.Single(handler.Frames);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(20)]
    public void A_peer_that_closes_inside_a_payload_is_reported_as_closed_after_the_whole_frames(int bytes)
    {
        byte[] whole = Frames.Encode(1, "{\"first\": 1}");
        byte[] cut = Frames.Encode(1, "{\"second\": 2, \"more\": true}")[..bytes];
        var handler = new FrameCollector();
        var e = ReadFails(Frames.Concat(whole, cut), handler);
        Assert.Equal(IpcStatus.Closed, e.Status);
        Assert.Contains("middle of a frame", e.Message);
        Assert.Equal("{\"first\": 1}", Json.Text(Assert.Single(handler.Frames).Payload));
    }

    [Fact]
    public void The_buffer_shrinks_back_after_a_frame_larger_than_it_keeps()
    {
        byte[] big = new byte[FrameReader.RetainedCapacity + 1];
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        byte[] stream = Frames.Concat(Frames.Encode(1, big), Frames.Encode(1, "{}"));
        reader.Run(new ScriptedConnection(stream, 65536), handler);
        Assert.Equal(2, handler.Frames.Count);
        Assert.Equal(big.Length, handler.Frames[0].Payload.Length);
        Assert.True(reader.Capacity <= FrameReader.RetainedCapacity, $"capacity {reader.Capacity}");
    }

    private sealed class StopAfterFirst(Action onFrame) : PerFrameHandler
    {
        public override bool OnFrame(byte kind, ReadOnlySpan<byte> payload)
        {
            onFrame();
            return false;
        }
    }
}
