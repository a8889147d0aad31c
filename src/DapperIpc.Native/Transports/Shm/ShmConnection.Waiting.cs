using System;
using System.Diagnostics;
using System.Threading;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// How an end waits on the rings: a short spin (pausing, then yielding the CPU), then a
/// sleep on a futex in the ring's control page, cut every <see cref="LivenessMs"/> to look
/// at the socket; and how a writer wakes the reader it fed.
/// </summary>
internal sealed unsafe partial class ShmConnection
{
    private const int PauseLooks = 64; // polls before an unpinned spin starts yielding

    [ThreadStatic]
    private static int t_allowedCpus; // 0: not asked yet on this thread

    // Returns when data came, the stream ended, or the deadline (a Stopwatch time) passed.
    private void WaitForData(long deadline)
    {
        if (Spin(static c => c._rx.HasData || c.Ended(), deadline))
        {
            return;
        }

        while (true)
        {
            _rx.AnnounceReader(ShmLayout.ReaderAsleep);
            if (_rx.HasData || Ended())
            {
                _rx.AnnounceReader(ShmLayout.ReaderAwake);
                return;
            }

            int timedOut = ShmNative.FutexWait(_rx.ReaderWait, ShmLayout.ReaderAsleep, SleepMs(deadline));
            _rx.AnnounceReader(ShmLayout.ReaderAwake);
            if (timedOut != 0 && ShmNative.Drain(_fd, 0) != 0)
            {
                _peerGone = true;
            }

            if (_rx.HasData || Ended() || Stopwatch.GetTimestamp() >= deadline)
            {
                return;
            }
        }
    }

    // Under the send lock: returns when `needed` bytes are free in the send ring; throws when
    // the connection ends or the deadline passes first.
    private void WaitForRoom(long deadline, ulong needed)
    {
        _needed = needed;
        if (!Spin(static c => c._tx.Free() >= c._needed || c.SendEnded, deadline))
        {
            while (true)
            {
                Interlocked.Exchange(ref *_tx.WriterWait, 1);
                if (_tx.Free() >= needed || SendEnded)
                {
                    Interlocked.Exchange(ref *_tx.WriterWait, 0);
                    break;
                }

                int timedOut = ShmNative.FutexWait(_tx.WriterWait, 1, SleepMs(deadline));
                Interlocked.Exchange(ref *_tx.WriterWait, 0);
                if (_tx.Free() >= needed || SendEnded)
                {
                    break;
                }

                if (timedOut != 0 && ShmNative.HungUp(_fd) != 0)
                {
                    throw new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({Description})");
                }

                if (Stopwatch.GetTimestamp() >= deadline)
                {
                    throw new IpcException(IpcStatus.SendTimeout,
                        "send timed out: the peer has not read for the whole send timeout (the shared-memory ring is full)");
                }
            }
        }

        if (SendEnded)
        {
            throw Closed();
        }
    }

    // Polls for up to the spin time; true when done. A thread pinned to the CPU the peer
    // last ran on (both pinned to one, taskset -c 0) yields at every look: a busy poll
    // there only keeps the writer it waits for from running. Otherwise it pauses for a few
    // looks (the peer on another CPU answers within them: the fastest hand-over there is),
    // then yields between looks. Measured: bench/README.md.
    private bool Spin(Func<ShmConnection, bool> done, long deadline)
    {
        if (_spinTicks == 0)
        {
            return done(this);
        }

        long end = Math.Min(deadline, Stopwatch.GetTimestamp() + _spinTicks);
        int pauses = PinnedWithPeer() ? 0 : PauseLooks;
        for (int looks = 0; ; looks++)
        {
            if (done(this))
            {
                return true;
            }

            if (looks < pauses)
            {
                Thread.SpinWait(1);
                continue;
            }

            ShmNative.Yield();
            if (Stopwatch.GetTimestamp() >= end)
            {
                return done(this);
            }
        }
    }

    // True when this thread may run on one CPU only and the peer last ran there too.
    // Publishes our CPU for the peer's same question; a wrong hint costs speed only.
    private bool PinnedWithPeer()
    {
        int cpu = ShmNative.CurrentCpu();
        Volatile.Write(ref *_ownCpu, cpu);
        if (t_allowedCpus == 0)
        {
            int allowed = ShmNative.AllowedCpus();
            t_allowedCpus = allowed <= 0 ? int.MaxValue : allowed;
        }

        return t_allowedCpus == 1 && cpu >= 0 && Volatile.Read(ref *_peerCpu) == cpu;
    }

    private static int SleepMs(long deadline)
    {
        long left = deadline - Stopwatch.GetTimestamp();
        if (left <= 0)
        {
            return 0;
        }

        return (int)Math.Clamp((left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency, 1, LivenessMs);
    }

    // After a publish: a futex wake for a reader asleep on the ring, a doorbell on the socket
    // for one that waits on it (pull mode), nothing for one awake.
    private void Wake(uint how)
    {
        if (how == ShmLayout.ReaderAwake)
        {
            return;
        }

        if (how == ShmLayout.ReaderAsleep)
        {
            ShmNative.FutexWake(_tx.ReaderWait);
            return;
        }

        ShmNative.Doorbell(_fd);
    }
}
