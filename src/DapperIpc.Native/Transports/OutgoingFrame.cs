using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports;

/// <summary>
/// One frame of a batch send. The layout is the C header's <c>dapper_ipc_frame</c>, so
/// the caller's array is sent from where it lies, with no copy and no allocation. The
/// payload is caller memory that must stay put for the duration of the send (native
/// memory, or pinned).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly unsafe struct OutgoingFrame
{
    public OutgoingFrame(byte kind, byte* payload, nuint length)
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
