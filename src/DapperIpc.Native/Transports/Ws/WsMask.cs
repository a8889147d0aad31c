using System;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace DapperIpc.Transports.Ws;

/// <summary>
/// RFC 6455 masking: XOR with a 4-byte key, the key's byte i applying to payload byte
/// i mod 4. In place, a vector at a time, continuing at any offset into the payload (a
/// frame's payload arrives in pieces).
/// </summary>
internal static class WsMask
{
    /// <summary>XORs <paramref name="data"/>, which starts <paramref name="offset"/> bytes into a payload masked with <paramref name="key"/> (the key's bytes in wire order, as a little-endian uint).</summary>
    public static void Apply(Span<byte> data, uint key, long offset)
    {
        if (key == 0 || data.IsEmpty)
        {
            return;
        }

        // Rotate the key so that data[0] meets key byte (offset mod 4).
        int shift = (int)(offset & 3) * 8;
        uint k = shift == 0 ? key : (key >> shift) | (key << (32 - shift));
        int i = 0;
        if (Vector.IsHardwareAccelerated && data.Length >= Vector<byte>.Count)
        {
            // Every .NET target is little-endian: the uint's bytes are the key's, in order.
            Vector<byte> pattern = Vector.AsVectorByte(new Vector<uint>(k));
            Span<Vector<byte>> vectors = MemoryMarshal.Cast<byte, Vector<byte>>(data);
            for (int v = 0; v < vectors.Length; v++)
            {
                vectors[v] ^= pattern;
            }

            i = vectors.Length * Vector<byte>.Count;
        }

        ulong k8 = k | ((ulong)k << 32);
        for (; i + 8 <= data.Length; i += 8)
        {
            ulong word = MemoryMarshal.Read<ulong>(data.Slice(i)) ^ k8;
            MemoryMarshal.Write(data.Slice(i), in word);
        }

        for (; i < data.Length; i++)
        {
            data[i] ^= (byte)(k >> ((i & 3) * 8));
        }
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> masked.</summary>
    public static void Copy(ReadOnlySpan<byte> source, Span<byte> destination, uint key, long offset)
    {
        source.CopyTo(destination);
        Apply(destination.Slice(0, source.Length), key, offset);
    }
}

/// <summary>Masking keys from the system's CSPRNG, drawn 64 at a time (RFC 6455 wants them unpredictable).</summary>
internal sealed class WsMaskKeys
{
    private readonly uint[] _keys = new uint[64];
    private int _next = 64;

    /// <summary>A fresh key, never 0 (0 would leave the payload as it is). Any thread (the reader's pong, a sender, cleanup's close).</summary>
    public uint Next()
    {
        lock (_keys)
        {
            return NextLocked();
        }
    }

    private uint NextLocked()
    {
        while (true)
        {
            if (_next == _keys.Length)
            {
                RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(_keys.AsSpan()));
                _next = 0;
            }

            uint key = _keys[_next++];
            if (key != 0)
            {
                return key;
            }
        }
    }
}
