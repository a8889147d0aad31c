using DapperIpc.Framing;

namespace DapperIpc.Tests;

/// <summary>The 8-byte DP v1 header on its own: what is written, and what parsing accepts.</summary>
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
    [InlineData(FrameKind.Event, 0u)]
    [InlineData(FrameKind.Command, 1u)]
    [InlineData(FrameKind.Event, 255u)]
    [InlineData(FrameKind.Command, 256u)]
    [InlineData(FrameKind.Event, 64u * 1024 * 1024)]
    [InlineData((byte)7, 0xFFFFFFFFu)]
    public void A_written_header_parses_back_to_the_same_kind_and_length(byte kind, uint length)
    {
        var header = new byte[FrameHeader.Size];
        FrameHeader.Write(header, kind, length);
        Assert.Equal((kind, length), FrameHeader.Parse(header, uint.MaxValue));
    }

    [Theory]
    [InlineData(0x45, 0x50, 1)]
    [InlineData(0x44, 0x51, 1)]
    [InlineData(0x00, 0x00, 1)]
    public void Parsing_a_wrong_magic_is_a_protocol_error(byte m0, byte m1, byte version)
    {
        byte[] header = [m0, m1, version, 1, 0, 0, 0, 0];
        var e = Assert.Throws<IpcException>(() => FrameHeader.Parse(header, uint.MaxValue));
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Contains("magic", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(255)]
    public void Parsing_a_wrong_version_is_a_protocol_error(byte version)
    {
        byte[] header = [0x44, 0x50, version, 1, 0, 0, 0, 0];
        var e = Assert.Throws<IpcException>(() => FrameHeader.Parse(header, uint.MaxValue));
        Assert.Equal(IpcStatus.Protocol, e.Status);
        Assert.Contains("version", e.Message);
    }

    [Theory]
    [InlineData(1024u, 1024u, true)]
    [InlineData(1024u, 1025u, false)]
    [InlineData(FrameHeader.DefaultMaxPayload, FrameHeader.DefaultMaxPayload + 1, false)]
    [InlineData(FrameHeader.DefaultMaxPayload, 0xFFFFFFFFu, false)]
    public void A_length_is_accepted_up_to_the_maximum_and_refused_above_it(uint max, uint length, bool accepted)
    {
        var header = new byte[FrameHeader.Size];
        FrameHeader.Write(header, FrameKind.Event, length);
        if (accepted)
        {
            Assert.Equal(length, FrameHeader.Parse(header, max).Length);
        }
        else
        {
            var e = Assert.Throws<IpcException>(() => FrameHeader.Parse(header, max));
            Assert.Equal(IpcStatus.FrameTooLarge, e.Status);
            Assert.Contains(length.ToString(), e.Message);
        }
    }
}
