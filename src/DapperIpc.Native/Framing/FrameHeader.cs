using System;
using System.Buffers.Binary;

namespace DapperIpc.Framing;

/// <summary>The 8-byte DP v1 header: "DP", version 1, kind, big-endian payload length.</summary>
public static class FrameHeader
{
    public const int Size = 8;
    public const byte Magic0 = (byte)'D';
    public const byte Magic1 = (byte)'P';
    public const byte Version = 1;

    /// <summary>64 MiB: far above what the peers send (tens of MiB at most), far below what a hostile length asks for.</summary>
    public const uint DefaultMaxPayload = 64u * 1024 * 1024;

    public static void Write(Span<byte> destination, byte kind, uint payloadLength)
    {
        destination[0] = Magic0;
        destination[1] = Magic1;
        destination[2] = Version;
        destination[3] = kind;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(4, 4), payloadLength);
    }

    /// <summary>The length field, unchecked: for a peek that only asks whether a whole frame is there.</summary>
    public static uint PayloadLength(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt32BigEndian(header.Slice(4, 4));

    /// <summary>
    /// Checks a header and returns its kind and length, or throws
    /// <see cref="IpcException"/> with <see cref="IpcStatus.Protocol"/> (bad magic or
    /// version: the stream cannot be resynchronised) or
    /// <see cref="IpcStatus.FrameTooLarge"/> (refused before anything is allocated).
    /// </summary>
    public static (byte Kind, uint Length) Parse(ReadOnlySpan<byte> header, uint maxPayload)
    {
        if (header[0] != Magic0 || header[1] != Magic1)
        {
            throw new IpcException(IpcStatus.Protocol,
                $"protocol error: bad frame magic 0x{header[0]:X2}{header[1]:X2} (expected 0x4450 \"DP\"); closing the connection");
        }

        if (header[2] != Version)
        {
            throw new IpcException(IpcStatus.Protocol,
                $"protocol error: unsupported frame version {header[2]} (expected {Version}); closing the connection");
        }

        uint length = PayloadLength(header);
        if (length > maxPayload)
        {
            throw new IpcException(IpcStatus.FrameTooLarge,
                $"frame too large: the peer announced {length} bytes, the maximum is {maxPayload}; closing the connection");
        }

        return (header[3], length);
    }
}
