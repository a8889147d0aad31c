using System;

namespace DapperIpc.Fuzz;

/// <summary>Takes the harness's parameters off the front of a fuzz input; short inputs read as zeros.</summary>
internal ref struct FuzzInput(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly ReadOnlySpan<byte> Rest => _rest;

    public byte Byte()
    {
        if (_rest.IsEmpty)
        {
            return 0;
        }

        byte b = _rest[0];
        _rest = _rest[1..];
        return b;
    }

    public ushort UInt16() => (ushort)((Byte() << 8) | Byte());

    public uint UInt32() => ((uint)UInt16() << 16) | UInt16();

    public ReadOnlySpan<byte> Take(int count)
    {
        var taken = _rest[..Math.Min(count, _rest.Length)];
        _rest = _rest[taken.Length..];
        return taken;
    }
}
