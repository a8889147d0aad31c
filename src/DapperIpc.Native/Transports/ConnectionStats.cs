using System;
using System.Threading;

namespace DapperIpc.Transports;

/// <summary>
/// A manager's counters (dapper_ipc_get_stats), shared by the connections it has over its
/// life. Each field has one writer at a time, so plain fields do: the send side is written
/// under the connection's send lock, the receive side by the one thread that reads (the
/// reader or the thread in recv); only <see cref="Connects"/> and the heartbeat's round
/// trip come from elsewhere. Readers see each field whole (64-bit reads) but not one snapshot.
/// </summary>
internal sealed class ConnectionStats
{
    public long FramesSent;
    public long BytesSent;
    public long SendBlockedTicks;   // Stopwatch ticks
    public long LastSendStamp;      // Stopwatch timestamp (the send reads that clock anyway); 0: never

    public long FramesReceived;
    public long BytesReceived;
    public long LastReceiveStamp;   // StampClock.Stamp(); 0: never

    public long Connects;
    public long HeartbeatRttUs = -1;

    public void CountConnect() => Interlocked.Increment(ref Connects);

    /// <summary>Milliseconds since a Stopwatch timestamp; -1 for never.</summary>
    public static long MsAgoStamp(long stamp)
        => stamp == 0 ? -1 : Math.Max(0, (System.Diagnostics.Stopwatch.GetTimestamp() - stamp) * 1000 / System.Diagnostics.Stopwatch.Frequency);

    /// <summary>A monotonic millisecond clock for the heartbeats, never 0.</summary>
    public static long Now()
    {
        long now = OperatingSystem.IsWindows() ? Environment.TickCount64 : PosixMs();
        return now == 0 ? 1 : now;
    }

    // Apart, and never inlined: a SuppressGCTransition call is bound when its caller is
    // compiled, and the JIT on Windows (no shim there) compiles Now.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static long PosixMs() => Platform.SocketShim.CoarseMs();
}
