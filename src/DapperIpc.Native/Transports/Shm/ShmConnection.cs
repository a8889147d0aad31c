using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// A connection whose frames travel through two rings in shared memory (docs/protocol.md,
/// "Shared memory"), next to the unix socket they were set up over. The socket carries no
/// frame: it is the liveness signal (a peer that dies closes it, and the end-of-file ends
/// this connection, so a reader never waits on a ring nobody will write) and the pull
/// mode's doorbell. A reader with nothing to read polls the ring for up to the spin time,
/// yielding the CPU between looks, then sleeps on a futex in the ring's control page that
/// the writer wakes only when the reader said it sleeps; the sleep is cut every
/// <see cref="LivenessMs"/> to look at the socket. The reader copies from the ring into
/// the frame reader's buffer on its own thread: the callbacks run there, as over a socket.
/// A client joins the shared memory when it first needs it (the listener passes it when
/// it accepts, which may come after the client's connect returns, on the same thread);
/// handshake frames (the auth token) travel on the socket before that.
/// </summary>
internal sealed unsafe partial class ShmConnection : ConnectionBase
{
    /// <summary>How often a sleeper looks whether the peer's socket closed (a peer killed mid-write wakes nobody).</summary>
    internal const int LivenessMs = 100;

    private readonly Socket _socket;
    private readonly int _fd;
    private byte* _mapping;
    private ulong _mappingSize;
    private ShmRing _rx = null!; // set once joined
    private ShmRing _tx = null!;
    private volatile bool _joined;
    private uint _ringBytes; // listener: the size of the rings it offers
    private int* _ownCpu;  // in the header page: the CPU each end ran on when it last sent or waited
    private int* _peerCpu;
    private ulong _needed; // WaitForRoom's, for its spin test (under the send lock)
    private readonly Lock _joinLock = new();
    private readonly long _spinTicks;
    private readonly int _sendTimeoutMs;
    private volatile bool _stopped;  // our own shutdown: a waiting reader returns end of stream
    private volatile bool _peerGone; // the socket ended
    private readonly Lock _mappingLock = new(); // no shutdown touches the control pages once they are unmapped
    private bool _unmapped;

    private ShmConnection(Socket socket, ConnectionOptions options, string description) : base(options.MaxPayload)
    {
        _socket = socket;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        _spinTicks = options.ShmSpinUs <= 0 ? 0 : options.ShmSpinUs * Stopwatch.Frequency / 1_000_000;
        _sendTimeoutMs = options.SendTimeoutMs;
        Description = description;
    }

    public override string Description { get; }

    public override nint PollHandle => _fd;

    protected override bool CanStopReceiving => true;

    /// <summary>A heartbeat's non-waiting send goes only where it fits now: never into a wait for room (or for the listener's offer).</summary>
    protected override bool CanWriteNow
    {
        get
        {
            try
            {
                return _joined && _tx.Free() >= FrameHeader.Size + 64;
            }
            catch (IpcException)
            {
                return true; // an impossible index: the write reports it
            }
        }
    }

    public override int BytesWaiting
    {
        get
        {
            lock (_mappingLock)
            {
                try
                {
                    return _unmapped || !_joined || !_rx.HasData ? 0 : (int)Math.Min(int.MaxValue, _rx.Available());
                }
                catch (IpcException)
                {
                    return 1; // an impossible index: the reader reports it; the peer is not silent
                }
            }
        }
    }

    /// <summary>
    /// Pull mode: after a recv found no whole frame, the host waits on the readable handle
    /// (an epoll over the socket), so the writer is asked for a doorbell byte on the
    /// socket; true when data came in meanwhile or the stream ended.
    /// </summary>
    public override bool HasBufferedInput
    {
        get
        {
            if (!_joined)
            {
                // The listener's offer makes the socket, and so the handle, readable.
                return _stopped;
            }

            _rx.AnnounceReader(ShmLayout.ReaderWantsDoorbell);
            return _rx.HasData || _rx.WriterClosed || _stopped || _peerGone;
        }
    }

    /// <summary>Listener side: an accepted client, offered the shared memory once admitted (<see cref="Admitted"/>, after its token).</summary>
    public static ShmConnection Accepted(Socket client, ConnectionOptions options, string description)
    {
        ShmRendezvous.RequireLinux();
        return new ShmConnection(client, options, description) { _ringBytes = options.ShmRingBytes };
    }

    /// <summary>Client side: the connection over a connected socket; it joins the shared memory when the listener passes it (on first use).</summary>
    public static ShmConnection Connected(Socket socket, ConnectionOptions options, string description)
    {
        ShmRendezvous.RequireLinux();
        return new ShmConnection(socket, options, description);
    }

    // ---- reading ----

    public override int Receive(Span<byte> buffer)
    {
        if (!_joined && !JoinForReading(long.MaxValue))
        {
            return 0;
        }

        while (true)
        {
            if (TakeOrEnd(buffer, out int n))
            {
                return n;
            }

            WaitForData(long.MaxValue);
        }
    }

    public override int Receive(Span<byte> buffer, int timeoutMs)
    {
        if (timeoutMs < 0)
        {
            return Receive(buffer);
        }

        long deadline = Deadline(timeoutMs);
        if (!_joined && !JoinForReading(deadline))
        {
            return _stopped ? 0 : -1;
        }

        while (true)
        {
            if (TakeOrEnd(buffer, out int n))
            {
                return n;
            }

            // Takes the doorbells, and sees the end of the socket, before deciding to wait.
            if (ShmNative.Drain(_fd, 0) != 0)
            {
                _peerGone = true;
                continue;
            }

            long left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return -1;
            }

            _rx.AnnounceReader(ShmLayout.ReaderWantsDoorbell);
            if (_rx.HasData)
            {
                continue;
            }

            int ms = (int)Math.Min(LivenessMs, (left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
            if (ShmNative.Drain(_fd, ms) != 0)
            {
                _peerGone = true;
            }
        }
    }

    // Reads from the ring and wakes a writer that sleeps for the room this frees.
    private int Take(Span<byte> buffer)
    {
        int n = _rx.Read(buffer);
        if (n > 0 && _rx.WriterWantsWake())
        {
            ShmNative.FutexWake(_rx.WriterWait);
        }

        return n;
    }

    // True with what to return: frames from the ring, or at the end of the stream what the
    // writer put in before it closed (0 once that is read too).
    private bool TakeOrEnd(Span<byte> buffer, out int n)
    {
        n = Take(buffer);
        if (n > 0)
        {
            return true;
        }

        if (Ended())
        {
            n = Take(buffer);
            return true;
        }

        return false;
    }

    private bool Ended() => _stopped || _peerGone || _rx.WriterClosed;
}
