using System;
using System.Net.Sockets;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// The closing path: marks the send ring closed and wakes every sleeper on the rings, shuts
/// the socket (the peer's liveness signal), and unmaps the shared memory once; no shutdown
/// touches the control pages after that.
/// </summary>
internal sealed unsafe partial class ShmConnection
{
    protected override void ShutdownSendCore() => Shut(SocketShutdown.Send);

    protected override void ShutdownCore()
    {
        _stopped = true;
        Shut(SocketShutdown.Both);
    }

    // Send: a sender of ours waiting for room, and the peer's reader, are woken. Both: our
    // own reader on the receive ring too.
    private void Shut(SocketShutdown how)
    {
        lock (_mappingLock)
        {
            if (_unmapped)
            {
                return;
            }

            if (_joined)
            {
                _tx.MarkClosed();
                if (how == SocketShutdown.Both)
                {
                    ShmNative.FutexWake(_rx.ReaderWait);
                }

                ShmNative.FutexWake(_tx.WriterWait);
                ShmNative.FutexWake(_tx.ReaderWait);
            }

            ShutdownSocket(how);
        }
    }

    private void ShutdownSocket(SocketShutdown how)
    {
        try
        {
            _socket.Shutdown(how);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    protected override void DisposeCore()
    {
        lock (_mappingLock)
        {
            if (_unmapped)
            {
                return;
            }

            _unmapped = true;
            if (_joined)
            {
                ShmNative.Unmap(_mapping, _mappingSize);
            }

            _socket.Dispose();
        }
    }

    private IpcException Closed() => new(IpcStatus.Closed, $"the connection ({Description}) is closed");
}
