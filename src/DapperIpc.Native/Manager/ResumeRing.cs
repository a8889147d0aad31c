using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using DapperIpc.Framing;

namespace DapperIpc.Manager;

/// <summary>
/// The frames this end sent that the peer has not acknowledged yet, for a resume
/// (DAPPER_IPC_FLAG_RECONNECT): one pinned buffer allocated once, records appended at the
/// tail and dropped at the head, so a send costs a copy and never an allocation. A record
/// is [kind][u32 length][payload] and never wraps: one that does not fit before the end
/// starts again at 0 (a 0xFF byte, or fewer than 5 bytes left, marks the jump). Frames are
/// numbered from 1 in send order. Not thread-safe: the caller locks.
/// </summary>
internal sealed unsafe class ResumeRing
{
    private const int RecordHeader = 5;
    private const byte WrapMark = 0xFF;

    private readonly byte[] _buffer;
    private readonly int _capacity;
    private int _head;
    private int _tail;
    private int _count;
    private long _firstSeq = 1; // the number of the record at the head (the next one when empty)
    private long _lostThrough;  // the last frame dropped before the peer acknowledged it; 0: none

    public ResumeRing(uint capacity)
    {
        _capacity = (int)Math.Min(capacity, int.MaxValue - 64);
        _buffer = GC.AllocateUninitializedArray<byte>(_capacity, pinned: true);
    }

    /// <summary>The number the next appended frame gets.</summary>
    public long NextSeq => _firstSeq + _count;

    public long LostThrough => _lostThrough;

    public int Capacity => _capacity;

    /// <summary>Keeps a sent frame; drops the oldest ones (remembered as lost) when it does not fit. Returns where it went.</summary>
    public int Append(byte kind, ReadOnlySpan<byte> payload)
    {
        long size = RecordHeader + (long)payload.Length;
        if (size > _capacity)
        {
            // Never keepable: everything before it and it are past the bound.
            _lostThrough = NextSeq;
            _firstSeq = NextSeq + 1;
            _count = 0;
            _head = _tail = 0;
            return -1;
        }

        int at;
        while (!TryPlace((int)size, out at))
        {
            _lostThrough = _firstSeq;
            PopFront();
        }

        _buffer[at] = kind;
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(at + 1, 4), (uint)payload.Length);
        payload.CopyTo(_buffer.AsSpan(at + RecordHeader));
        _tail = at + (int)size;
        _count++;
        return at;
    }

    /// <summary>Takes back the newest frames from <paramref name="firstAt"/> (where the first of them went) on, keeping <paramref name="keep"/> of them: they never went out.</summary>
    public void Rewind(int firstAt, long firstSeq, int keep)
    {
        if (firstAt < 0 || firstSeq < _firstSeq)
        {
            return; // dropped meanwhile: already counted as lost
        }

        int p = firstAt;
        for (int i = 0; i < keep; i++)
        {
            p = Normalise(p);
            p += RecordHeader + (int)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(p + 1, 4));
        }

        long newNext = firstSeq + keep;
        _count = (int)(newNext - _firstSeq);
        _tail = _count == 0 ? (_head = 0) : p;
    }

    /// <summary>Drops every frame up to and including number <paramref name="delivered"/>: the peer has it.</summary>
    public void Acknowledge(long delivered)
    {
        while (_count > 0 && _firstSeq <= delivered)
        {
            PopFront();
        }
    }

    /// <summary>
    /// For a resume: the frames after <paramref name="peerDelivered"/>, as frames pointing into
    /// the (pinned) buffer, valid until the next append. Null with <paramref name="problem"/>
    /// when the peer needs frames no longer kept, or claims frames never sent.
    /// </summary>
    public List<NativeFrame>? After(long peerDelivered, out string? problem)
    {
        problem = null;
        if (peerDelivered >= NextSeq)
        {
            problem = $"the peer reports {peerDelivered} frames delivered, but only {NextSeq - 1} were sent: it is not the peer this end was talking to";
            return null;
        }

        Acknowledge(peerDelivered);
        if (peerDelivered + 1 < _firstSeq)
        {
            problem = $"the peer has {peerDelivered} frames, and frames from {peerDelivered + 1} to {_firstSeq - 1} were dropped from the resume buffer "
                + $"({_capacity} bytes, resume_buffer_bytes) before it acknowledged them";
            return null;
        }

        var frames = new List<NativeFrame>(_count);
        int p = _head;
        fixed (byte* b = _buffer)
        {
            for (int i = 0; i < _count; i++)
            {
                p = Normalise(p);
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(p + 1, 4));
                frames.Add(new NativeFrame(_buffer[p], b + p + RecordHeader, length));
                p += RecordHeader + (int)length;
            }
        }

        return frames;
    }

    private int Normalise(int p) => _capacity - p < RecordHeader || _buffer[p] == WrapMark ? 0 : p;

    private void PopFront()
    {
        int p = Normalise(_head);
        _head = p + RecordHeader + (int)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(p + 1, 4));
        _count--;
        _firstSeq++;
        if (_count == 0)
        {
            _head = _tail = 0;
        }
    }

    private bool TryPlace(int size, out int at)
    {
        at = 0;
        if (_count == 0)
        {
            _head = _tail = 0;
            return true;
        }

        if (_tail > _head)
        {
            if (_capacity - _tail >= size)
            {
                at = _tail;
                return true;
            }

            if (size <= _head)
            {
                if (_capacity - _tail >= RecordHeader)
                {
                    _buffer[_tail] = WrapMark;
                }

                return true;
            }

            return false;
        }

        // Wrapped (or full when equal): the free space is between tail and head.
        if (_tail < _head && _head - _tail >= size)
        {
            at = _tail;
            return true;
        }

        return false;
    }
}
