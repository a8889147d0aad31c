using System;
using System.Runtime.InteropServices;
using DapperIpc.Manager;

namespace DapperIpc.Interop;

/// <summary>
/// dapper_ipc_stats as the header lays it out (the ABI tests compare the values that come
/// through it field by field). Filled only as far as the caller's struct_size reaches, so a
/// program built against a shorter struct is never written past its end.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeStats
{
    public uint StructSize;
    public int State;
    public ulong FramesSent;
    public ulong FramesReceived;
    public ulong BytesSent;
    public ulong BytesReceived;
    public ulong Connects;
    public ulong SendBlockedNs;
    public long LastSendMsAgo;
    public long LastReceiveMsAgo;
    public long HeartbeatRttUs;

    /// <summary>The smallest struct_size accepted: struct_size and state.</summary>
    public const uint MinSize = 8;

    public static unsafe void Write(NativeStats* out_, StatsSnapshot s)
    {
        // Whole fields only (every field after the first two is 8 bytes).
        uint size = Math.Min(out_->StructSize, (uint)sizeof(NativeStats));
        size = MinSize + (size - MinSize) / 8 * 8;
        var full = new NativeStats
        {
            StructSize = out_->StructSize,
            State = (int)s.State,
            FramesSent = (ulong)s.FramesSent,
            FramesReceived = (ulong)s.FramesReceived,
            BytesSent = (ulong)s.BytesSent,
            BytesReceived = (ulong)s.BytesReceived,
            Connects = (ulong)s.Connects,
            SendBlockedNs = (ulong)s.SendBlockedNs,
            LastSendMsAgo = s.LastSendMsAgo,
            LastReceiveMsAgo = s.LastReceiveMsAgo,
            HeartbeatRttUs = s.HeartbeatRttUs,
        };

        new ReadOnlySpan<byte>(&full, (int)size).CopyTo(new Span<byte>(out_, (int)size));
    }
}
