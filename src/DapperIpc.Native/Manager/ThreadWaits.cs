using System.Collections.Generic;
using System.Threading;

namespace DapperIpc.Manager;

/// <summary>
/// Which thread is waiting for which reader, process-wide, so that no wait closes a
/// cycle. Two callbacks that destroy each other's managers would each wait for the
/// other's reader forever; here the second to arrive sees the cycle and does not wait
/// (its manager is closed all the same, and the other reader ends when its callback
/// returns). A thread waits for at most one reader at a time, so the edges form chains
/// and the check is a walk along one.
/// </summary>
internal static class ThreadWaits
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<Thread, Thread> s_waitsFor = [];

    /// <summary>Records that the calling thread is about to wait for <paramref name="target"/>; false when that would deadlock (do not wait then).</summary>
    public static bool Enter(Thread target)
    {
        Thread self = Thread.CurrentThread;
        lock (s_lock)
        {
            for (Thread? t = target; t is not null; t = s_waitsFor.GetValueOrDefault(t))
            {
                if (t == self)
                {
                    return false;
                }
            }

            s_waitsFor[self] = target;
            return true;
        }
    }

    /// <summary>The calling thread's wait is over.</summary>
    public static void Exit()
    {
        lock (s_lock)
        {
            s_waitsFor.Remove(Thread.CurrentThread);
        }
    }
}
