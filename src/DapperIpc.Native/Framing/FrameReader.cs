using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Framing;

/// <summary>
/// Reads DP v1 frames from a byte stream (<see cref="IFrameSource"/>) into one reusable native buffer and hands
/// each payload to the handler as a slice of that buffer: no allocation and no copy
/// per frame. Several frames arriving in one read are dispatched from that read; a
/// header or payload split over any number of reads is reassembled in place.
/// </summary>
public sealed unsafe class FrameReader : IDisposable
{
    // Big enough that a burst of small frames needs one recv; small enough to keep per connection.
    internal const int InitialCapacity = 64 * 1024;

    // A buffer grown for a large frame is kept up to this size (so a stream of 1 MiB
    // frames does not realloc per frame) and shrunk back above it.
    internal const int RetainedCapacity = 4 * 1024 * 1024;

    // Frames per batch-handler call, as the header promises: a 64 KiB read of 128-byte frames
    // (header included) holds 512, so it takes two calls; the slots (24 bytes each) live on the stack.
    internal const int BatchSize = 256;

    private readonly uint _maxPayload;
    private byte* _buffer;
    private int _capacity;
    private int _start; // first unconsumed byte
    private int _end;   // one past the last received byte

    public FrameReader(uint maxPayload)
    {
        _maxPayload = maxPayload;
        _capacity = InitialCapacity;
        _buffer = (byte*)NativeMemory.Alloc((nuint)_capacity);
    }

    /// <summary>Capacity of the receive buffer now; tests use it to show a hostile length allocates nothing.</summary>
    public int Capacity => _capacity;

    /// <summary>
    /// Reads until the peer closes between frames (returns true), or the handler asks
    /// to stop (returns false). Throws <see cref="IpcException"/>: Protocol or
    /// FrameTooLarge for a bad header, Closed when the peer vanished mid-frame, Io for
    /// socket errors.
    /// </summary>
    public bool Run(IFrameSource source, IFrameHandler handler)
    {
        ObjectDisposedException.ThrowIf(_buffer == null, this);
        Span<NativeFrame> batch = stackalloc NativeFrame[BatchSize];
        while (true)
        {
            // Hand over every complete frame already buffered, in one call per BatchSize,
            // made before MakeRoom may move the bytes their payloads point at.
            int needed = 0;
            int batched = 0;
            try
            {
                while (_end - _start >= FrameHeader.Size)
                {
                    var (kind, length) = FrameHeader.Parse(new ReadOnlySpan<byte>(_buffer + _start, FrameHeader.Size), _maxPayload);
                    long frameSize = FrameHeader.Size + (long)length;
                    if (_end - _start < frameSize)
                    {
                        needed = (int)frameSize;
                        break;
                    }

                    batch[batched++] = new NativeFrame(kind, _buffer + _start + FrameHeader.Size, length);
                    _start += (int)frameSize;
                    if (batched == batch.Length)
                    {
                        batched = 0;
                        if (!handler.OnFrames(batch))
                        {
                            return false;
                        }
                    }
                }
            }
            catch (IpcException) when (batched > 0)
            {
                handler.OnFrames(batch[..batched]); // the frames before a bad header are whole and valid
                throw;
            }

            if (batched > 0 && !handler.OnFrames(batch[..batched]))
            {
                return false;
            }

            MakeRoom(needed);

            int received = source.Receive(new Span<byte>(_buffer + _end, _capacity - _end));
            if (received == 0)
            {
                int pending = _end - _start;
                if (pending == 0)
                {
                    return true;
                }

                throw new IpcException(IpcStatus.Closed, pending < FrameHeader.Size
                    ? $"the peer closed the connection in the middle of a frame header ({pending} of {FrameHeader.Size} bytes received)"
                    : $"the peer closed the connection in the middle of a frame ({pending} of {needed} bytes received)");
            }

            _end += received;
        }
    }

    // ---- pull mode (dapper_ipc_recv): the caller takes one frame at a time ----

    /// <summary>
    /// The frame at the head of the buffer: true with its kind and payload length when it
    /// is complete. Throws IpcException (Protocol, FrameTooLarge) for a bad header.
    /// </summary>
    public bool TryPeek(out byte kind, out int payloadLength)
    {
        kind = 0;
        payloadLength = 0;
        if (_end - _start < FrameHeader.Size)
        {
            return false;
        }

        var (k, length) = FrameHeader.Parse(new ReadOnlySpan<byte>(_buffer + _start, FrameHeader.Size), _maxPayload);
        kind = k;
        payloadLength = (int)length;
        return _end - _start >= FrameHeader.Size + (long)length;
    }

    /// <summary>The payload of the frame <see cref="TryPeek"/> found complete.</summary>
    public ReadOnlySpan<byte> PeekedPayload(int payloadLength) => new(_buffer + _start + FrameHeader.Size, payloadLength);

    /// <summary>Drops the frame <see cref="TryPeek"/> found complete.</summary>
    public void Consume(int payloadLength) => _start += FrameHeader.Size + payloadLength;

    /// <summary>Bytes received and not yet taken (part of a frame, or whole frames).</summary>
    public int Pending => _end - _start;

    /// <summary>Free space for the next receive, with room for the whole pending frame.</summary>
    public Span<byte> FreeSpace()
    {
        int needed = 0;
        if (_end - _start >= FrameHeader.Size)
        {
            var (_, length) = FrameHeader.Parse(new ReadOnlySpan<byte>(_buffer + _start, FrameHeader.Size), _maxPayload);
            needed = FrameHeader.Size + (int)length;
        }

        MakeRoom(needed);
        return new Span<byte>(_buffer + _end, _capacity - _end);
    }

    /// <summary>Counts <paramref name="received"/> bytes written into <see cref="FreeSpace"/>.</summary>
    public void Commit(int received) => _end += received;

    /// <summary>
    /// Ensures there is free space after <see cref="_end"/> and, when a frame of
    /// <paramref name="frameSize"/> bytes is pending, room for all of it.
    /// </summary>
    private void MakeRoom(int frameSize)
    {
        int pending = _end - _start;
        if (pending == 0)
        {
            _start = _end = 0;
            if (_capacity > RetainedCapacity)
            {
                Resize(InitialCapacity);
            }
        }

        int wanted = Math.Max(frameSize, FrameHeader.Size);
        if (wanted > _capacity)
        {
            Compact();
            Resize(wanted);
            return;
        }

        // Move a partial frame to the front only when what is left after it cannot hold
        // the rest; a small frame's tail is a few bytes to move, a large one rarely moves.
        if (_start > 0 && (_capacity - _start < wanted || _end == _capacity))
        {
            Compact();
        }
    }

    private void Compact()
    {
        int pending = _end - _start;
        if (_start > 0 && pending > 0)
        {
            Buffer.MemoryCopy(_buffer + _start, _buffer, _capacity, pending);
        }

        _start = 0;
        _end = pending;
    }

    private void Resize(int capacity)
    {
        _buffer = (byte*)NativeMemory.Realloc(_buffer, (nuint)capacity);
        _capacity = capacity;
    }

    public void Dispose()
    {
        if (_buffer != null)
        {
            NativeMemory.Free(_buffer);
            _buffer = null;
        }
    }
}
