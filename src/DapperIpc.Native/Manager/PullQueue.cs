using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using DapperIpc.Framing;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Manager;

/// <summary>
/// The pull mode with DAPPER_IPC_FLAG_RECONNECT. A resume needs a thread that owns the
/// connection (it reads the drop, rejoins, answers the peer's acknowledgements), and recv
/// only runs when the host calls it; so here the session's own reader thread reads, exactly
/// as in the callback mode, and hands the host's frames to this bounded queue, which
/// recv drains. The frames outlive a reconnect (the queue is the session's), and so does the
/// readable handle: a flag fd of the library's own, not a watch on one socket. When the
/// queue is full the reader waits, so the peer's sends wait as with a host that does not
/// call recv. The cost (a copy into a pooled buffer and a thread hop per read) is paid only
/// in this mode; the pull mode without the flag reads on the caller's thread (PullReader).
/// </summary>
internal sealed class PullQueue(IConnectionHandler? host, Heartbeat heartbeat) : IConnectionHandler, IDisposable
{
    // Enough for a burst of small frames and a few large ones; one frame larger than this
    // is still taken when the queue is empty, so no frame the transport allows is stuck.
    private const long MaxBytes = 4L << 20;
    private const int MaxFrames = 65536;

    private readonly object _gate = new();
    private readonly Queue<(byte[] Buffer, int Length, byte Kind)> _frames = new();
    private long _bytes;
    private IpcException? _ended; // the status recv returns once the queue is drained
    private bool _closed;         // cleanup: the reader stops waiting for room
    private ReadySignal? _signal;

    public bool OneFramePerCall => false;

    /// <summary>The readable handle: stable for the session, across reconnects. Null where the platform has none (Windows).</summary>
    public nint? ReadableHandle()
    {
        lock (_gate)
        {
            if (_closed)
            {
                // Cleanup ran since the session handed this queue out: no handle to leak.
                throw new IpcException(IpcStatus.Cancelled, "cleanup ran while making the readable handle");
            }

            if (_signal is null)
            {
                _signal = ReadySignal.CreateStandalone();
                if (_signal is null)
                {
                    return null;
                }

                UpdateSignal();
            }

            return _signal.Handle;
        }
    }

    /// <summary>On the reader thread: copies the frames in, waiting for room (or cleanup).</summary>
    public void OnMessages(ReadOnlySpan<NativeFrame> frames)
    {
        lock (_gate)
        {
            foreach (NativeFrame frame in frames)
            {
                int length = (int)frame.Length;
                while (!_closed && _frames.Count > 0 && (_bytes + length > MaxBytes || _frames.Count >= MaxFrames))
                {
                    Monitor.Wait(_gate);
                }

                if (_closed)
                {
                    return;
                }

                byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                frame.PayloadSpan.CopyTo(buffer);
                _frames.Enqueue((buffer, length, (byte)frame.Kind));
                _bytes += length;
            }

            Monitor.PulseAll(_gate);
            UpdateSignal();
        }
    }

    /// <summary>
    /// On the reader thread: the host hears RECONNECTING and CONNECTED as in the callback
    /// mode; DISCONNECTED also becomes the status recv returns after the last queued frame.
    /// </summary>
    public void OnConnectionEvent(ConnectionEvent connectionEvent, IpcStatus status, string reason)
    {
        if (connectionEvent == ConnectionEvent.Disconnected)
        {
            // recv's E_TIMEOUT means "nothing yet", and as a final status only a peer the
            // heartbeats found dead (as without the flag); a resume that ran out of time
            // is the connection's end.
            bool closed = status == IpcStatus.Ok || (status == IpcStatus.Timeout && heartbeat.DeadReason is null);
            End(new IpcException(closed ? IpcStatus.Closed : status, reason));
        }

        if (host is null)
        {
            return;
        }

        try
        {
            host.OnConnectionEvent(connectionEvent, status, reason);
        }
        catch (Exception e)
        {
            Diagnostics.Log.HandlerFailed(reason, e);
        }
    }

    /// <summary>The reader ended without a report (the host's cleanup, or it failed): recv says so after the queue.</summary>
    public void End(IpcException why)
    {
        lock (_gate)
        {
            _ended ??= why;
            Monitor.PulseAll(_gate);
            UpdateSignal();
        }
    }

    /// <summary>Cleanup: wakes the reader waiting for room and a recv waiting for frames.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// As PullReader.Recv: the queued frames that fit, else the next within the timeout;
    /// BufferTooSmall leaves the first in place, frames[0] describing it. Throws the
    /// connection's end (every later call too) once the queue is drained; Cancelled on cleanup.
    /// </summary>
    public IpcStatus Recv(Span<byte> destination, Span<ReceivedFrame> frames, out int count, int timeoutMs, long start)
    {
        count = 0;
        lock (_gate)
        {
            try
            {
                while (true)
                {
                    if (_closed)
                    {
                        throw new IpcException(IpcStatus.Cancelled, "cleanup ran while receiving");
                    }

                    if (_frames.Count > 0)
                    {
                        return Take(destination, frames, out count);
                    }

                    if (_ended is not null)
                    {
                        throw _ended;
                    }

                    int wait = timeoutMs < 0 ? Timeout.Infinite
                        : (int)Math.Max(0, timeoutMs - (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    if (wait == 0)
                    {
                        return IpcStatus.Timeout;
                    }

                    Monitor.Wait(_gate, wait);
                }
            }
            finally
            {
                UpdateSignal();
            }
        }
    }

    private IpcStatus Take(Span<byte> destination, Span<ReceivedFrame> frames, out int count)
    {
        count = 0;
        int used = 0;
        while (count < frames.Length && _frames.TryPeek(out var f))
        {
            if (f.Length > destination.Length - used)
            {
                if (count == 0)
                {
                    frames[0] = new ReceivedFrame(0, f.Length, f.Kind);
                    return IpcStatus.BufferTooSmall;
                }

                break;
            }

            f.Buffer.AsSpan(0, f.Length).CopyTo(destination[used..]);
            frames[count++] = new ReceivedFrame(used, f.Length, f.Kind);
            used += f.Length;
            _frames.Dequeue();
            _bytes -= f.Length;
            ArrayPool<byte>.Shared.Return(f.Buffer);
        }

        // The reader counted the frames as they arrived (stats); this wakes it if it waits for room.
        Monitor.PulseAll(_gate);
        return IpcStatus.Ok;
    }

    private void UpdateSignal() => _signal?.Set(_frames.Count > 0 || _ended is not null || _closed);

    public void Dispose()
    {
        lock (_gate)
        {
            _closed = true;
            while (_frames.TryDequeue(out var f))
            {
                ArrayPool<byte>.Shared.Return(f.Buffer);
            }

            _bytes = 0;
            _signal?.Dispose();
            _signal = null;
            Monitor.PulseAll(_gate);
        }
    }
}
