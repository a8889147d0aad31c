using System;
using System.Buffers.Binary;

namespace DapperIpc.Transports.Ws;

/// <summary>RFC 6455 frame headers: opcodes, close codes, and the header a sender writes.</summary>
internal static class WsFrame
{
    public const byte Continuation = 0x0;
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    /// <summary>Largest header: 2 bytes, a 64-bit length, a masking key.</summary>
    public const int MaxHeaderSize = 14;

    /// <summary>Control frames carry at most this much (RFC 6455 5.5).</summary>
    public const int MaxControlPayload = 125;

    public const ushort NormalClosure = 1000;
    public const ushort GoingAway = 1001;
    public const ushort ProtocolError = 1002;
    public const ushort UnsupportedData = 1003;
    public const ushort NoStatus = 1005;
    public const ushort InvalidPayload = 1007;
    public const ushort MessageTooBig = 1009;

    /// <summary>Header size for a payload of <paramref name="length"/> bytes.</summary>
    public static int HeaderSize(ulong length, bool masked)
        => (length < 126 ? 2 : length <= ushort.MaxValue ? 4 : 10) + (masked ? 4 : 0);

    /// <summary>
    /// Writes a final frame's header (FIN set, no reserved bits) with the shortest length
    /// encoding, and the masking key when <paramref name="maskKey"/> is not 0. Returns its size.
    /// </summary>
    public static int WriteHeader(Span<byte> destination, byte opcode, ulong length, uint maskKey)
    {
        byte maskBit = maskKey != 0 ? (byte)0x80 : (byte)0;
        destination[0] = (byte)(0x80 | opcode);
        int size;
        if (length < 126)
        {
            destination[1] = (byte)(maskBit | (byte)length);
            size = 2;
        }
        else if (length <= ushort.MaxValue)
        {
            destination[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)length);
            size = 4;
        }
        else
        {
            destination[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(2), length);
            size = 10;
        }

        if (maskKey != 0)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(size), maskKey);
            size += 4;
        }

        return size;
    }

    /// <summary>A close frame (code, then reason cut to fit 125 bytes), masked with <paramref name="maskKey"/> unless 0. Returns its size; <paramref name="destination"/> holds at least MaxHeaderSize + 125.</summary>
    public static int WriteClose(Span<byte> destination, ushort code, string reason, uint maskKey)
    {
        Span<byte> payload = stackalloc byte[MaxControlPayload];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        int length = 2 + Utf8Prefix(reason, payload.Slice(2));
        return WriteControl(destination, Close, payload.Slice(0, length), maskKey);
    }

    /// <summary>A control frame carrying <paramref name="payload"/> (at most 125 bytes). Returns its size.</summary>
    public static int WriteControl(Span<byte> destination, byte opcode, ReadOnlySpan<byte> payload, uint maskKey)
    {
        int header = WriteHeader(destination, opcode, (ulong)payload.Length, maskKey);
        WsMask.Copy(payload, destination.Slice(header), maskKey, 0);
        return header + payload.Length;
    }

    /// <summary>As much of <paramref name="text"/> as fits in whole UTF-8 characters.</summary>
    private static int Utf8Prefix(string text, Span<byte> destination)
    {
        System.Text.Unicode.Utf8.FromUtf16(text, destination, out _, out int written, replaceInvalidSequences: true, isFinalBlock: true);
        return written;
    }
}
