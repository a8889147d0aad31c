using System;
using System.Runtime.CompilerServices;
using System.Threading;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// One direction of the shared memory: a single-producer single-consumer byte ring that
/// carries DP v1 frames exactly as a socket would (a frame longer than the ring goes in
/// pieces, as through a socket buffer). Each end keeps its own index privately and only
/// publishes it; the other end's index is read from shared memory and checked before any
/// use (<see cref="IpcStatus.Protocol"/> when it cannot be true), and every offset into
/// the data is masked by the ring size, so no value the peer writes can move a copy
/// outside the mapping. One instance is either the reader or the writer of its ring.
/// </summary>
internal sealed unsafe class ShmRing
{
    private readonly byte* _control;
    private readonly byte* _data;
    private readonly ulong _size;
    private readonly ulong _mask;
    private ulong _head; // reader: bytes consumed (ours; the shared copy is only published)
    private ulong _tail; // writer: bytes written, published or not
    private ulong _published; // writer: the tail the reader may see
    private ulong _headSeen; // writer: the reader's index as last read (and checked)

    public ShmRing(byte* control, byte* data, uint size)
    {
        _control = control;
        _data = data;
        _size = size;
        _mask = size - 1UL;
    }

    public uint Size => (uint)_size;

    private ref ulong SharedTail => ref Unsafe.AsRef<ulong>(_control + ShmLayout.TailOffset);

    private ref ulong SharedHead => ref Unsafe.AsRef<ulong>(_control + ShmLayout.HeadOffset);

    public uint* ReaderWait => (uint*)(_control + ShmLayout.ReaderWaitOffset);

    public uint* WriterWait => (uint*)(_control + ShmLayout.WriterWaitOffset);

    private ref uint ClosedFlag => ref Unsafe.AsRef<uint>(_control + ShmLayout.ClosedOffset);

    // ---- reader ----

    /// <summary>Reader: bytes there to read, checked (Protocol when the writer's index is impossible).</summary>
    public ulong Available()
    {
        ulong available = Volatile.Read(ref SharedTail) - _head;
        if (available > _size)
        {
            throw new IpcException(IpcStatus.Protocol,
                $"protocol error: the shared-memory ring's write index is {available} bytes ahead of the read index, more than the ring holds ({_size}); closing the connection");
        }

        return available;
    }

    /// <summary>Reader: true when the writer published anything not read yet (unchecked: <see cref="Read"/> checks).</summary>
    public bool HasData => Volatile.Read(ref SharedTail) != _head;

    /// <summary>Reader: the writer said it closed its side.</summary>
    public bool WriterClosed => Volatile.Read(ref ClosedFlag) != 0;

    /// <summary>
    /// Reader: copies what is there, up to the destination's length, out of the ring and
    /// frees that room. 0 when the ring is empty. The caller then wakes a writer that sleeps
    /// for room when <see cref="WriterWantsWake"/> says so (this class makes no system call).
    /// </summary>
    public int Read(Span<byte> destination)
    {
        ulong available = Available();
        if (available == 0)
        {
            return 0;
        }

        int n = (int)Math.Min(available, (ulong)destination.Length);
        ulong at = _head & _mask;
        int first = (int)Math.Min((ulong)n, _size - at);
        new ReadOnlySpan<byte>(_data + at, first).CopyTo(destination);
        if (first < n)
        {
            new ReadOnlySpan<byte>(_data, n - first).CopyTo(destination[first..]);
        }

        _head += (ulong)n;
        Volatile.Write(ref SharedHead, _head);

        return n;
    }

    /// <summary>Reader, after a <see cref="Read"/> that freed room: true (once) when the writer sleeps waiting for room and must be woken.</summary>
    public bool WriterWantsWake()
    {
        // Pairs with the writer's fence between announcing its sleep and looking at the head.
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref *WriterWait) != 0 && Interlocked.CompareExchange(ref *WriterWait, 0, 1) == 1;
    }

    /// <summary>Reader: announces how it waits (<see cref="ShmLayout.ReaderAsleep"/>, <see cref="ShmLayout.ReaderWantsDoorbell"/>, or awake), with a full fence so a writer that publishes after it sees it.</summary>
    public void AnnounceReader(uint how)
    {
        Interlocked.Exchange(ref *ReaderWait, how);
    }

    // ---- writer ----

    /// <summary>Writer: free bytes, checked against the reader's index (Protocol when it cannot be true).</summary>
    public ulong Free()
    {
        ulong head = Volatile.Read(ref SharedHead);
        ulong used = _tail - head;
        if (used > _size)
        {
            throw new IpcException(IpcStatus.Protocol,
                $"protocol error: the shared-memory ring's read index is {used} bytes behind the write index, more than the ring holds ({_size}), or ahead of it; closing the connection");
        }

        _headSeen = head;
        return _size - used;
    }

    /// <summary>Writer: copies as much of the source as there is room for (not yet visible to the reader); the bytes copied.</summary>
    public int Write(byte* source, int length)
    {
        // The reader's index is read again only when the room last seen is not enough: its
        // cache line is the one the reader writes, so each read of it may be a miss.
        ulong free = _size - (_tail - _headSeen);
        if (free < (ulong)length)
        {
            free = Free();
        }

        int n = (int)Math.Min(free, (ulong)length);
        if (n == 0)
        {
            return 0;
        }

        ulong at = _tail & _mask;
        int first = (int)Math.Min((ulong)n, _size - at);
        Buffer.MemoryCopy(source, _data + at, first, first);
        if (first < n)
        {
            Buffer.MemoryCopy(source + first, _data, n - first, n - first);
        }

        _tail += (ulong)n;
        return n;
    }

    /// <summary>Writer: the position to roll back to when a frame cannot be finished (<see cref="Unwrite"/>).</summary>
    public ulong Position => _tail;

    /// <summary>Writer: true when nothing after <paramref name="position"/> has been published, so it can be taken back.</summary>
    public bool CanUnwrite(ulong position) => _published <= position;

    /// <summary>Writer: takes back unpublished bytes written after <paramref name="position"/>.</summary>
    public void Unwrite(ulong position) => _tail = position;

    /// <summary>
    /// Writer: makes everything written visible to the reader, and says how to wake it:
    /// <see cref="ShmLayout.ReaderAsleep"/> (futex), <see cref="ShmLayout.ReaderWantsDoorbell"/>
    /// (a byte on the socket) or <see cref="ShmLayout.ReaderAwake"/> (nothing to do).
    /// </summary>
    public uint Publish()
    {
        if (_published == _tail)
        {
            return ShmLayout.ReaderAwake;
        }

        _published = _tail;
        Volatile.Write(ref SharedTail, _tail);

        // Pairs with the reader's fence between announcing its sleep and looking at the tail.
        Interlocked.MemoryBarrier();
        uint how = Volatile.Read(ref *ReaderWait);
        if (how == ShmLayout.ReaderAwake || Interlocked.CompareExchange(ref *ReaderWait, ShmLayout.ReaderAwake, how) != how)
        {
            return ShmLayout.ReaderAwake;
        }

        return how;
    }

    /// <summary>Writer: says its side is closed (the reader takes what is in the ring, then end of stream).</summary>
    public void MarkClosed()
    {
        Interlocked.Exchange(ref ClosedFlag, 1);
    }
}
