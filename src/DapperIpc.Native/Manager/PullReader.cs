using System;
using DapperIpc.Framing;
using DapperIpc.Transports;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Manager;

/// <summary>
/// The pull mode (dapper_ipc_recv): frames read on the caller's thread, one per call, from
/// the same reusable buffer as the reader thread's. A frame larger than the caller's buffer
/// stays at the head of the buffer (its size reported) for the next call. Only one thread
/// is inside at a time (the session sees to it).
/// </summary>
internal sealed class PullReader(ConnectionBase connection, ConnectionStats stats, Heartbeat control) : IDisposable
{
    private readonly FrameReader _frames = new(connection.MaxPayload);
    private ReadySignal? _signal;
    private IpcException? _ended; // the status every later call returns: the stream is over

    /// <summary>The readable handle, made on first use (sockets on Linux, macOS and Windows).</summary>
    public nint ReadableHandle()
    {
        if (_signal is null)
        {
            _signal = ReadySignal.Create(connection) ?? throw new IpcException(IpcStatus.Unsupported,
                "readable_handle is implemented for sockets on Linux, macOS and Windows, and adopted pipes on Linux and macOS (not Windows pipes, registered transports or the BSDs); use recv with a timeout, or the reader");
            UpdateSignal();
        }

        return _signal.Handle;
    }

    /// <summary>
    /// Whole frames copied back to back into <paramref name="destination"/> and described in
    /// <paramref name="frames"/>[0..<paramref name="count"/>): every frame already buffered that
    /// fits (so a burst that one read brought in costs one call), else the next to arrive
    /// within <paramref name="timeoutMs"/> (0: do not wait; negative: no limit). Ok with
    /// count &gt;= 1; BufferTooSmall when the next frame alone exceeds the destination (it
    /// stays; frames[0] describes it); Timeout when no whole frame came. Throws IpcException:
    /// Closed once the peer closed (every later call too), Protocol/FrameTooLarge for a bad
    /// header, Io.
    /// </summary>
    public IpcStatus Recv(Span<byte> destination, Span<ReceivedFrame> frames, out int count, int timeoutMs, long start)
    {
        count = 0;
        try
        {
            while (true)
            {
                if (_ended is not null)
                {
                    throw _ended;
                }

                IpcStatus taken = TakeBuffered(destination, frames, out count);
                if (taken != IpcStatus.Timeout)
                {
                    return taken;
                }

                int wait = timeoutMs < 0 ? -1
                    : (int)Math.Max(0, timeoutMs - (long)System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                int received = connection.Receive(_frames.FreeSpace(), wait);
                if (received < 0)
                {
                    // Returned, not thrown: with timeout 0 it is the common "nothing yet" of an event loop.
                    return IpcStatus.Timeout;
                }

                if (received == 0)
                {
                    int pending = _frames.Pending;
                    _ended = control.DeadReason is { } dead ? new IpcException(IpcStatus.Timeout, dead)
                        : new IpcException(IpcStatus.Closed, pending == 0
                        ? connection.PeerEndReason ?? "the peer closed the connection"
                        : $"the peer closed the connection in the middle of a frame ({pending} bytes of it received)");
                    connection.Close();
                    throw _ended;
                }

                _frames.Commit(received);
            }
        }
        catch (IpcException e) when (e.Status is IpcStatus.Protocol or IpcStatus.FrameTooLarge or IpcStatus.Io)
        {
            // The stream cannot be resynchronised: every later call says so at once.
            _ended = e;
            connection.Close();
            throw;
        }
        finally
        {
            if (_signal is not null)
            {
                UpdateSignal();
            }
        }
    }

    // The buffered whole frames that fit: Ok (count >= 1), BufferTooSmall (the first does
    // not fit; frames[0] describes it) or Timeout (none buffered).
    private IpcStatus TakeBuffered(Span<byte> destination, Span<ReceivedFrame> frames, out int count)
    {
        count = 0;
        int used = 0;
        long bytes = 0;
        while (count < frames.Length)
        {
            byte kind;
            int length;
            try
            {
                if (!_frames.TryPeek(out kind, out length))
                {
                    break;
                }
            }
            catch (IpcException) when (count > 0)
            {
                break; // the frames before a bad header are delivered; the next call reports it
            }

            if (kind == FrameKind.Control)
            {
                // The library's own (heartbeats): never the host's.
                control.OnControl(connection, _frames.PeekedPayload(length));
                _frames.Consume(length);
                continue;
            }

            if (length > destination.Length - used)
            {
                if (count == 0)
                {
                    frames[0] = new ReceivedFrame(0, length, kind);
                    return IpcStatus.BufferTooSmall;
                }

                break;
            }

            _frames.PeekedPayload(length).CopyTo(destination[used..]);
            _frames.Consume(length);
            frames[count++] = new ReceivedFrame(used, length, kind);
            used += length;
            bytes += FrameHeader.Size + length;
        }

        if (count == 0)
        {
            return IpcStatus.Timeout;
        }

        stats.FramesReceived += count;
        stats.BytesReceived += bytes;
        stats.LastReceiveStamp = StampClock.Stamp();
        return IpcStatus.Ok;
    }

    private void UpdateSignal()
    {
        bool ready;
        try
        {
            ready = _ended is not null || _frames.TryPeek(out _, out _) || connection.HasBufferedInput;
        }
        catch (IpcException)
        {
            ready = true; // a bad header: recv returns its status at once
        }

        _signal!.Set(ready);
    }

    public void Dispose()
    {
        _signal?.Dispose();
        _frames.Dispose();
    }
}
