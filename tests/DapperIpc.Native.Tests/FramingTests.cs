using System.Buffers.Binary;
using DapperIpc.Framing;

namespace DapperIpc.Tests;

public class FramingTests
{
    [Fact]
    public void Header_is_DP_version_1_kind_and_big_endian_length()
    {
        var header = new byte[8];
        FrameHeader.Write(header, FrameKind.Command, 0x01020304);
        Assert.Equal(new byte[] { 0x44, 0x50, 1, 2, 1, 2, 3, 4 }, header);
        Assert.Equal((FrameKind.Command, 0x01020304u), FrameHeader.Parse(header, uint.MaxValue));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(128)]
    [InlineData(70_000)]
    [InlineData(5 * 1024 * 1024)]
    public void Payloads_of_any_size_round_trip(int size)
    {
        byte[] payload = Enumerable.Range(0, size).Select(i => (byte)(i * 31)).ToArray();
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        bool clean = reader.Run(new ScriptedConnection(Frames.Encode(FrameKind.Event, payload), 4096), handler);

        Assert.True(clean);
        var frame = Assert.Single(handler.Frames);
        Assert.Equal(FrameKind.Event, frame.Kind);
        Assert.Equal(payload, frame.Payload);
    }

    [Fact]
    public void A_frame_split_at_every_byte_position_is_reassembled()
    {
        byte[] frame = Frames.Encode(FrameKind.Command, "{\"seq\": 1, \"command\": \"next\"}");
        for (int split = 1; split < frame.Length; split++)
        {
            var handler = new FrameCollector();
            using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
            reader.Run(new ScriptedConnection(frame, split, frame.Length), handler);
            var got = Assert.Single(handler.Frames);
            Assert.Equal(frame.AsSpan(8).ToArray(), got.Payload);
        }
    }

    [Fact]
    public void A_frame_dribbled_one_byte_per_read_arrives_whole()
    {
        byte[] stream = Frames.Concat(Frames.Encode(1, "{\"a\": 1}"), Frames.Encode(2, "{\"b\": 2}"));
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        reader.Run(new ScriptedConnection(stream, 1), handler);
        Assert.Equal(["{\"a\": 1}", "{\"b\": 2}"], handler.Frames.Select(f => System.Text.Encoding.UTF8.GetString(f.Payload)));
    }

    [Fact]
    public void Several_frames_in_one_read_are_all_dispatched_in_order()
    {
        byte[][] frames = Enumerable.Range(0, 500).Select(i => Frames.Encode(FrameKind.Event, $"{{\"i\": {i}}}")).ToArray();
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        reader.Run(new ScriptedConnection(Frames.Concat(frames)), handler);
        Assert.Equal(500, handler.Frames.Count);
        Assert.Equal("{\"i\": 499}", System.Text.Encoding.UTF8.GetString(handler.Frames[^1].Payload));
    }

    [Fact]
    public void Zero_length_payload_is_legal_framing()
    {
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        reader.Run(new ScriptedConnection(Frames.Concat(Frames.Encode(1, []), Frames.Encode(2, "{}"))), handler);
        Assert.Equal(2, handler.Frames.Count);
        Assert.Empty(handler.Frames[0].Payload);
    }

    [Fact]
    public void A_payload_that_is_not_utf8_json_is_delivered_intact_and_the_stream_stays_in_sync()
    {
        byte[] garbage = [0xff, 0xfe, 0x00, 0x80, (byte)'{'];
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        reader.Run(new ScriptedConnection(Frames.Concat(Frames.Encode(1, garbage), Frames.Encode(1, "{\"ok\": true}"))), handler);
        Assert.Equal(garbage, handler.Frames[0].Payload);
        Assert.Equal("{\"ok\": true}", System.Text.Encoding.UTF8.GetString(handler.Frames[1].Payload));
    }

    [Theory]
    [InlineData(new byte[] { 0x45, 0x50, 1, 1, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 0x44, 0x51, 1, 1, 0, 0, 0, 0 })]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)'\n' })]
    public void Wrong_magic_is_a_protocol_error(byte[] header)
    {
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        var e = Assert.Throws<IpcException>(() => reader.Run(new ScriptedConnection(header), new FrameCollector()));
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Contains("magic", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(255)]
    public void Wrong_version_is_a_protocol_error(byte version)
    {
        byte[] header = [0x44, 0x50, version, 1, 0, 0, 0, 0];
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        var e = Assert.Throws<IpcException>(() => reader.Run(new ScriptedConnection(header), new FrameCollector()));
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Contains("version", e.Message);
    }

    [Theory]
    [InlineData(1025u)]
    [InlineData(64u * 1024 * 1024 + 1)]
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
    [InlineData(4)]
    [InlineData(7)]
    public void A_peer_that_closes_inside_a_header_is_reported_as_closed(int bytes)
    {
        byte[] frame = Frames.Encode(1, "{}");
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        var e = Assert.Throws<IpcException>(() => reader.Run(new ScriptedConnection(frame[..bytes]), new FrameCollector()));
        Assert.Equal(IpcStatus.Closed, e.Status);
        Assert.Contains("header", e.Message);
    }

    [Fact]
    public void A_peer_that_closes_inside_a_payload_is_reported_as_closed_after_the_whole_frames()
    {
        byte[] whole = Frames.Encode(1, "{\"first\": 1}");
        byte[] cut = Frames.Encode(1, "{\"second\": 2}")[..12];
        var handler = new FrameCollector();
        using var reader = new FrameReader(FrameHeader.DefaultMaxPayload);
        var e = Assert.Throws<IpcException>(() => reader.Run(new ScriptedConnection(Frames.Concat(whole, cut)), handler));
        Assert.Equal(IpcStatus.Closed, e.Status);
        Assert.Single(handler.Frames);
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
        Assert.True(reader.Capacity <= FrameReader.RetainedCapacity, $"capacity {reader.Capacity}");
        Assert.Equal(big.Length, BinaryPrimitives.ReadInt32BigEndian(Frames.Encode(1, big).AsSpan(4)));
    }
}
