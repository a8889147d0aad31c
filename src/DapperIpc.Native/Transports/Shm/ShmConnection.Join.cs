using System;
using System.Diagnostics;
using System.Net.Sockets;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// The rendezvous over the socket: the handshake frames that travel on it before the shared
/// memory is used, the listener's offer of the memory once it admits the client, and the
/// client's join of it.
/// </summary>
internal sealed unsafe partial class ShmConnection
{
    /// <summary>
    /// Listener side, once the client is admitted: makes the shared memory and passes it
    /// over the socket. A refused client never sees it.
    /// </summary>
    internal override void Admitted()
    {
        ulong size = ShmLayout.TotalSize(_ringBytes);
        void* mapping;
        int fd = ShmNative.Create(size, &mapping);
        if (fd < 0)
        {
            throw new IpcException(IpcStatus.Io, $"making the shared memory for {Description} ({size} bytes) failed: {ShmNative.Describe(fd)}")
            {
                OutOfDescriptors = fd is -24 or -23,
            };
        }

        try
        {
            ShmRendezvous.WriteHeader((byte*)mapping, _ringBytes);
            ShmRendezvous.Send(_socket, fd, Description);
        }
        catch
        {
            ShmNative.Unmap(mapping, size);
            Platform.LibC.Close(fd);
            throw;
        }

        // The client holds its own descriptor now; the mapping keeps ours alive.
        Platform.LibC.Close(fd);
        lock (_mappingLock)
        {
            Attach((byte*)mapping, size, _ringBytes, listener: true);
        }
    }

    private void Attach(byte* mapping, ulong mappingSize, uint ringBytes, bool listener)
    {
        _mapping = mapping;
        _mappingSize = mappingSize;
        var toClient = new ShmRing(mapping + ShmLayout.ControlOffset, mapping + ShmLayout.DataOffset, ringBytes);
        var toListener = new ShmRing(mapping + ShmLayout.ControlOffset + ShmLayout.Page,
            mapping + ShmLayout.DataOffset + ringBytes, ringBytes);
        _rx = listener ? toListener : toClient;
        _tx = listener ? toClient : toListener;
        _ownCpu = (int*)(mapping + (listener ? ShmLayout.ListenerCpuOffset : ShmLayout.ClientCpuOffset));
        _peerCpu = (int*)(mapping + (listener ? ShmLayout.ClientCpuOffset : ShmLayout.ListenerCpuOffset));
        *_ownCpu = -1;
        _joined = true;
    }

    /// <summary>
    /// Client: takes the shared memory the listener passes when it accepts, waiting until
    /// the deadline (a Stopwatch time) in short steps so a shutdown ends the wait. False
    /// when it has not come by then; throws when the connection ended or the offer is bad.
    /// </summary>
    private bool Join(long deadline, bool forSending)
    {
        lock (_joinLock)
        {
            while (!_joined)
            {
                if (_stopped || (forSending && IsClosed))
                {
                    throw Closed();
                }

                if (!SocketReadable(deadline, out bool late))
                {
                    if (late)
                    {
                        return false;
                    }

                    continue;
                }

                lock (_mappingLock)
                {
                    if (_unmapped)
                    {
                        throw Closed();
                    }

                    (nint mapping, ulong size, uint ringBytes) = ShmRendezvous.Receive(_socket, Description, 0);
                    Attach((byte*)mapping, size, ringBytes, listener: false);
                }
            }

            return true;
        }
    }

    // False when the deadline passed, or our own shutdown came, before the offer.
    private bool JoinForReading(long deadline)
    {
        try
        {
            return Join(deadline, forSending: false);
        }
        catch (IpcException) when (_stopped)
        {
            return false;
        }
    }

    // One short wait (so a shutdown is seen) for the socket to turn readable; when it did
    // not, late says whether the deadline has passed.
    private bool SocketReadable(long deadline, out bool late)
    {
        late = false;
        if (ShmNative.WaitReadable(_fd, SleepMs(deadline)) != 0)
        {
            return true;
        }

        late = Stopwatch.GetTimestamp() >= deadline;
        return false;
    }

    /// <summary>
    /// Handshakes (the auth token) travel on the socket, before the shared memory is used:
    /// a client's token must not wait for the listener to accept it.
    /// </summary>
    public override bool ReceiveExactly(Span<byte> buffer, long deadline)
    {
        try
        {
            int got = 0;
            while (got < buffer.Length)
            {
                if (!SocketReadable(deadline, out bool late))
                {
                    if (late)
                    {
                        return false;
                    }

                    continue;
                }

                int n = _socket.Receive(buffer[got..], SocketFlags.None);
                if (n == 0)
                {
                    return false;
                }

                got += n;
            }

            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>A handshake frame (the client's auth token): on the socket, as <see cref="ReceiveExactly"/> reads it.</summary>
    internal override void SendHandshake(byte kind, ReadOnlySpan<byte> payload)
    {
        Span<byte> frame = stackalloc byte[FrameHeader.Size + payload.Length];
        FrameHeader.Write(frame, kind, (uint)payload.Length);
        payload.CopyTo(frame[FrameHeader.Size..]);
        try
        {
            while (!frame.IsEmpty)
            {
                frame = frame[_socket.Send(frame, SocketFlags.None)..];
            }
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, $"sending the auth frame to {Description}");
        }
    }
}
