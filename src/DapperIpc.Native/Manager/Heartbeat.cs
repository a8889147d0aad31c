using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Transports;

namespace DapperIpc.Manager;

/// <summary>
/// The control channel of one session (kind 3 frames, docs/protocol.md): the heartbeat
/// announcement, heartbeats and their answers, and the dead-peer deadline. Every session
/// has one, because a control frame must never reach the host even when heartbeats are
/// off here; only a session whose peer announced heartbeats, with heartbeats on at this
/// end too, gets the thread ("dapper-ipc-heartbeat") that sends them and watches the
/// deadline. The frame path pays one branch on the kind: the reader hands control frames
/// here and nothing else. After a resume (DAPPER_IPC_FLAG_RECONNECT) the thread starts
/// again on the new connection with the periods both ends announced the first time, so
/// heartbeats run across any number of reconnects without a second announcement.
/// </summary>
internal sealed class Heartbeat
{
    private const byte Hello = 1;  // [1][version 1][u32 heartbeat_ms]
    private const byte Ping = 2;   // [2][u64 sender's timestamp]
    private const byte Pong = 3;   // [3][the ping's 8 bytes, echoed]
    private const byte Version = 1;

    /// <summary>A dead peer is one silent for this many of the longer heartbeat period.</summary>
    public const int MissedBeats = 3;

    private readonly int _ownMs;
    private readonly bool _listenerSide;
    private readonly ConnectionStats _stats;
    private readonly ManualResetEventSlim _stop = new(false);
    private readonly object _gate = new();
    private Thread? _thread;
    private int _peerMs;      // the peer's announced period, once heartbeats ran; under _gate
    private bool _shutdown;   // the session is ending: no thread starts again; under _gate
    private long _peerSeenTick;
    private volatile string? _deadReason;

    public Heartbeat(int ownMs, bool listenerSide, ConnectionStats stats)
    {
        _ownMs = ownMs;
        _listenerSide = listenerSide;
        _stats = stats;
    }

    public bool Enabled => _ownMs > 0;

    /// <summary>Why the connection was closed as dead ("peer unresponsive for N ms"); null otherwise.</summary>
    public string? DeadReason => _deadReason;

    /// <summary>The connecting end's first frame, when heartbeats are on here. Blocking: nothing else is being sent yet.</summary>
    public void Announce(ConnectionBase connection)
    {
        if (Enabled)
        {
            connection.SendControl(HelloPayload(stackalloc byte[6]), wait: true);
        }
    }

    /// <summary>A control frame, on the thread that reads (the reader or the thread in recv).</summary>
    public void OnControl(ConnectionBase connection, ReadOnlySpan<byte> payload)
    {
        Volatile.Write(ref _peerSeenTick, ConnectionStats.Now());
        if (payload.IsEmpty || !Enabled)
        {
            return; // heartbeats off here: the announcement is dropped, and nothing is answered
        }

        switch (payload[0])
        {
            case Hello when payload.Length >= 6 && payload[1] >= Version:
                Start(connection, (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(payload.Slice(2, 4))));
                break;

            case Ping when payload.Length >= 9 && _thread is not null:
                Span<byte> pong = stackalloc byte[9];
                pong[0] = Pong;
                payload.Slice(1, 8).CopyTo(pong[1..]);
                try
                {
                    // Never waits: a reader stuck behind a blocked host send would stop reading.
                    connection.SendControl(pong, wait: false);
                }
                catch (IpcException)
                {
                    // The connection is ending; the reader learns it from its next read.
                }

                break;

            case Pong when payload.Length >= 9:
                long sent = BinaryPrimitives.ReadInt64BigEndian(payload.Slice(1, 8));
                long elapsed = Stopwatch.GetTimestamp() - sent;
                if (elapsed >= 0)
                {
                    _stats.HeartbeatRttUs = elapsed * 1_000_000 / Stopwatch.Frequency;
                }

                break;
        }
    }

    /// <summary>Tells the thread to end for good (the session ends), without waiting. Idempotent, any thread.</summary>
    public void Signal()
    {
        lock (_gate)
        {
            _shutdown = true;
        }

        _stop.Set();
    }

    /// <summary>Ends the thread for good; waits for it unless called on it. Idempotent, any thread.</summary>
    public void Stop()
    {
        Signal();
        Join();
    }

    /// <summary>
    /// The connection ended (the reader's thread): ends its thread and waits for it, but
    /// a resume may start one on the next connection (<see cref="Resumed"/>).
    /// </summary>
    public void EndConnection()
    {
        _stop.Set();
        Join();
    }

    /// <summary>
    /// A resume put <paramref name="next"/> in place of the dropped connection (the
    /// reader's thread, after <see cref="EndConnection"/>): heartbeats start on it again if
    /// they ran before, both ends keeping the periods they announced. No announcement: the
    /// peer does the same on its side; a ping that comes before this end's thread runs
    /// goes unanswered, which costs nothing but one round trip figure.
    /// </summary>
    public void Resumed(ConnectionBase next)
    {
        lock (_gate)
        {
            if (_shutdown || _peerMs == 0 || _thread is null || _thread.IsAlive)
            {
                return; // heartbeats never ran, or the old thread still does (EndConnection joins it)
            }

            _stop.Reset();
            _deadReason = null;
            Volatile.Write(ref _peerSeenTick, ConnectionStats.Now());
            StartLocked(next, _peerMs, answerHello: false);
        }
    }

    private void Join()
    {
        Thread? thread;
        lock (_gate)
        {
            thread = _thread;
        }

        if (thread is not null && thread != Thread.CurrentThread)
        {
            thread.Join();
        }
    }

    private Span<byte> HelloPayload(Span<byte> buffer)
    {
        buffer[0] = Hello;
        buffer[1] = Version;
        BinaryPrimitives.WriteUInt32BigEndian(buffer.Slice(2, 4), (uint)_ownMs);
        return buffer;
    }

    private void Start(ConnectionBase connection, int peerMs)
    {
        lock (_gate)
        {
            if (_thread is not null || _stop.IsSet || _shutdown || _peerMs != 0)
            {
                return;
            }

            _peerMs = Math.Max(1, peerMs);
            StartLocked(connection, _peerMs, answerHello: _listenerSide);
        }
    }

    private void StartLocked(ConnectionBase connection, int peerMs, bool answerHello)
    {
        _thread = new Thread(() => Run(connection, peerMs, answerHello))
        {
            IsBackground = true,
            Name = "dapper-ipc-heartbeat",
        };
        _thread.Start();
    }

    private void Run(ConnectionBase connection, int peerMs, bool answerHello)
    {
        Log.HeartbeatsOn(connection.Description, _ownMs, peerMs);
        long limit = (long)MissedBeats * Math.Max(_ownMs, Math.Max(1, peerMs));
        Span<byte> ping = stackalloc byte[9];
        ping[0] = Ping;
        try
        {
            if (answerHello)
            {
                // The answer to the client's announcement: from here on both ends beat.
                connection.SendControl(HelloPayload(stackalloc byte[6]), wait: true);
            }

            long nextPing = ConnectionStats.Now();
            long framesSeen = Volatile.Read(ref _stats.FramesReceived);
            while (true)
            {
                long now = ConnectionStats.Now();
                if (now >= nextPing)
                {
                    BinaryPrimitives.WriteInt64BigEndian(ping[1..], Stopwatch.GetTimestamp());
                    connection.SendControl(ping, wait: false); // skipped when the stream is busy or full
                    nextPing = now + _ownMs;
                }

                long frames = Volatile.Read(ref _stats.FramesReceived);
                if (frames != framesSeen)
                {
                    // The host's frames prove the peer alive too (a peer whose stream is
                    // busy with them may skip heartbeats): counted, never timed, here.
                    framesSeen = frames;
                    Volatile.Write(ref _peerSeenTick, now);
                }

                long seen = Volatile.Read(ref _peerSeenTick);
                long silence = now - seen;
                if (silence >= limit)
                {
                    if (connection.BytesWaiting > 0)
                    {
                        // The peer did send; this end has not read it yet (a long callback,
                        // a pull-mode host between two recv calls): not the peer's silence.
                        Volatile.Write(ref _peerSeenTick, now);
                        seen = now;
                    }
                    else
                    {
                        _deadReason = $"peer unresponsive for {silence} ms";
                        connection.Abort(); // wakes the reader (and recv, and blocked sends)
                        return;
                    }
                }

                long wake = Math.Min(nextPing, seen + limit) - now;
                if (_stop.Wait((int)Math.Clamp(wake, 1, int.MaxValue)))
                {
                    return;
                }
            }
        }
        catch (IpcException)
        {
            // The connection ended: whoever reads reports it.
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
