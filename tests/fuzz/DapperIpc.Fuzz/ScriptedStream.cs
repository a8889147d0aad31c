using System;

namespace DapperIpc.Fuzz;

/// <summary>
/// The peer's bytes, delivered in chunks whose sizes the fuzzer chose (cycling through the
/// script): every way a transport can split a stream across reads is reachable.
/// </summary>
internal sealed class ScriptedStream(byte[] bytes, ushort[] chunks)
{
    private int _next;
    private int _chunk;

    public ReadOnlySpan<byte> Bytes => bytes;

    public int Position => _next;

    public int Remaining => bytes.Length - _next;

    /// <summary>At most one scripted chunk (0 in the script: as much as fits); 0 at the end.</summary>
    public int Read(Span<byte> buffer)
    {
        Invariant.Check(buffer.Length > 0, "a receive was asked to read into an empty buffer (a blocking read would return 0: a false end of stream)");
        int want = chunks.Length == 0 ? int.MaxValue : chunks[_chunk++ % chunks.Length];
        if (want == 0)
        {
            want = int.MaxValue;
        }

        int n = Math.Min(Math.Min(want, buffer.Length), Remaining);
        bytes.AsSpan(_next, n).CopyTo(buffer);
        _next += n;
        return n;
    }

    /// <summary>The split script: a count (0-15) and that many big-endian 16-bit chunk sizes.</summary>
    public static ScriptedStream From(ref FuzzInput input)
    {
        var chunks = new ushort[input.Byte() % 16];
        for (int i = 0; i < chunks.Length; i++)
        {
            chunks[i] = input.UInt16();
        }

        return new ScriptedStream(input.Rest.ToArray(), chunks);
    }
}
