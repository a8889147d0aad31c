using System;
using System.Threading;
using DapperIpc.Framing;

namespace DapperIpc.Transports;

/// <summary>
/// One established byte stream to the peer (the design document's ConnectionBase).
/// Reading is done by one thread (the manager's reader); sending may come from any
/// number of threads at once and is serialised here so that frames never interleave.
/// <see cref="Close"/> is quick and never blocks on the peer: it wakes a blocked
/// reader and blocked senders. <see cref="Dispose"/> releases the handle once nobody
/// can be inside a system call on it.
/// </summary>
public abstract class ConnectionBase : IDisposable
{
    private readonly Lock _sendLock = new();
    private volatile bool _closed;
    private bool _disposed;

    protected ConnectionBase(uint maxPayload) => MaxPayload = maxPayload;

    public uint MaxPayload { get; }

    /// <summary>A short description of the endpoint for messages ("unix:/tmp/x/ipc.sock").</summary>
    public abstract string Description { get; }

    public bool IsClosed => _closed;

    /// <summary>Receives at most <c>buffer.Length</c> bytes; 0 means the peer closed. Throws IpcException.</summary>
    public abstract int Receive(Span<byte> buffer);

    /// <summary>
    /// Sends one DP v1 frame, header and payload gathered in one write, and returns once
    /// all of it is with the kernel. Throws IpcException: Closed once the connection is
    /// closed or the peer left, FrameTooLarge above the maximum.
    /// </summary>
    public void SendFrame(byte kind, ReadOnlySpan<byte> payload)
    {
        if ((uint)payload.Length > MaxPayload)
        {
            throw new IpcException(IpcStatus.FrameTooLarge,
                $"frame too large: {payload.Length} bytes, the maximum is {MaxPayload}");
        }

        Span<byte> header = stackalloc byte[FrameHeader.Size];
        FrameHeader.Write(header, kind, (uint)payload.Length);
        lock (_sendLock)
        {
            if (_closed)
            {
                throw new IpcException(IpcStatus.Closed, $"the connection ({Description}) is closed");
            }

            try
            {
                SendGathered(header, payload);
            }
            catch (IpcException e) when (e.StreamCut)
            {
                // Part of the frame is out: no later frame could be parsed by the peer.
                Close();
                throw;
            }
        }
    }

    /// <summary>Writes both spans completely, as if concatenated, without concatenating them.</summary>
    protected abstract void SendGathered(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload);

    /// <summary>Shuts the stream down both ways: the peer sees end-of-file, a blocked receive returns 0, blocked sends fail. Never blocks.</summary>
    protected abstract void ShutdownCore();

    /// <summary>Releases the handle; called once, when no thread can be inside a call on it.</summary>
    protected abstract void DisposeCore();

    /// <summary>Quick, idempotent, callable from any thread including the reader.</summary>
    public void Close()
    {
        if (_closed)
        {
            return;
        }

        _closed = true;
        ShutdownCore();
    }

    /// <summary>
    /// Closes, then waits for any sender still inside a system call (Close has already
    /// woken it) before releasing the handle, so a file descriptor is never closed under
    /// a thread that is using it. Must not be called while the reader thread may still
    /// be receiving on this connection.
    /// </summary>
    public void Dispose()
    {
        Close();
        lock (_sendLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            DisposeCore();
        }

        GC.SuppressFinalize(this);
    }
}
