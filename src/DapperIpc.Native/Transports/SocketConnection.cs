using System;
using System.Net.Sockets;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Transports;

/// <summary>
/// A connection over a stream socket (unix or tcp). .NET's <see cref="Socket"/> sets it
/// up and owns the handle; the hot path goes straight to the platform's system calls
/// (<see cref="SocketIO"/>) so a frame is one gathered write with no copy and a read
/// is one recv into the frame buffer, on the calling thread.
/// </summary>
internal sealed class SocketConnection : ConnectionBase
{
    private readonly Socket _socket;
    private readonly SocketIO _io;
    private readonly nint _handle;

    public SocketConnection(Socket socket, uint maxPayload, string description) : base(maxPayload)
    {
        _socket = socket;
        _io = SocketIO.Current;
        _io.Configure(socket);
        _handle = socket.SafeHandle.DangerousGetHandle();
        Description = description;
    }

    public override string Description { get; }

    public override int Receive(Span<byte> buffer) => _io.Receive(_socket, _handle, buffer);

    protected override void SendGathered(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
        => _io.SendAll(_socket, _handle, header, payload);

    protected override void ShutdownCore()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already disconnected by the peer: nothing left to wake.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    protected override void DisposeCore() => _socket.Dispose();
}
