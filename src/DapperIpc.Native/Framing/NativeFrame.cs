using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Framing;

/// <summary>
/// One frame in caller memory, laid out as the C header's <c>dapper_ipc_frame</c>: a batch
/// send reads the caller's array where it lies (no copy, no allocation), and recv_batch
/// describes the frames it copied into the caller's buffer with it. The payload must stay
/// put while the library uses it (native memory, or pinned).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly unsafe struct NativeFrame
{
    public NativeFrame(byte kind, byte* payload, nuint length)
    {
        Payload = payload;
        Length = length;
        Kind = kind;
    }

    public byte* Payload { get; }

    public nuint Length { get; }

    public int Kind { get; }

    /// <summary>The payload as a span; only after the length was checked against the maximum.</summary>
    public ReadOnlySpan<byte> PayloadSpan => new(Payload, checked((int)Length));
}
