using System;
using System.Diagnostics;

namespace DapperIpc.Transports;

/// <summary>
/// The frame path's timestamps (<see cref="Stamp"/>: the time-stamp counter through the
/// shim on POSIX, the Stopwatch on Windows), turned into milliseconds only when the
/// statistics are read: against the Stopwatch, over everything since <see cref="Start"/>,
/// so the counter's rate never has to be known in advance.
/// </summary>
internal static class StampClock
{
    private static long s_stamp0;
    private static long s_watch0;

    /// <summary>A timestamp in the clock's own unit (never 0 in practice: both clocks count from boot or earlier; 0 means never).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static long Stamp() => OperatingSystem.IsWindows() ? Stopwatch.GetTimestamp() : PosixStamp();

    // Apart, and never inlined: a SuppressGCTransition call is bound when its caller is
    // compiled, and the JIT on Windows (no shim there) compiles Stamp.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static long PosixStamp() => Platform.SocketShim.Stamp();

    /// <summary>Takes the reference point; before any stamp is taken (a manager's creation). Idempotent.</summary>
    public static void Start()
    {
        if (System.Threading.Volatile.Read(ref s_watch0) != 0)
        {
            return;
        }

        long stamp = Stamp();
        if (System.Threading.Interlocked.CompareExchange(ref s_stamp0, stamp, 0) == 0)
        {
            System.Threading.Volatile.Write(ref s_watch0, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Milliseconds since <paramref name="stamp"/>; -1 for 0 (never).</summary>
    public static long MsAgo(long stamp)
    {
        if (stamp == 0)
        {
            return -1;
        }

        long watch0 = System.Threading.Volatile.Read(ref s_watch0);
        long now = Stamp();
        long watch = Stopwatch.GetTimestamp();
        long stamps = now - System.Threading.Volatile.Read(ref s_stamp0);
        double ms = (watch - watch0) * 1000.0 / Stopwatch.Frequency;
        if (watch0 == 0 || stamps <= 0 || ms <= 0)
        {
            return 0;
        }

        return Math.Max(0, (long)((now - stamp) * (ms / stamps)));
    }
}
