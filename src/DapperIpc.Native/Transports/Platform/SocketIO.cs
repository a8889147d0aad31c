using System;
using System.Net.Sockets;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The per-platform system calls of the frame hot path. One instance per process,
/// chosen once; the platform differences live in the files named for the platform.
/// </summary>
internal abstract class SocketIO
{
    public static readonly SocketIO Current = Create();

    private static SocketIO Create()
    {
        if (OperatingSystem.IsWindows())
        {
            return new WindowsSocketIO();
        }

        return new PosixSocketIO();
    }

    /// <summary>Per-socket settings: the send timeout, and what the platform needs (macOS: SO_NOSIGPIPE).</summary>
    public virtual void Configure(Socket socket, int sendTimeoutMs)
    {
        if (sendTimeoutMs > 0)
        {
            // SO_SNDTIMEO: a blocked send gives up with EAGAIN (WSAETIMEDOUT on Windows).
            socket.SendTimeout = sendTimeoutMs;
        }
    }

    /// <summary>Blocking receive into <paramref name="buffer"/>; 0 at end of stream. Throws IpcException.</summary>
    public abstract int Receive(Socket socket, nint handle, Span<byte> buffer);

    /// <summary>Blocking write of header then payload, as one gathered write where the platform has one. Throws IpcException.</summary>
    public abstract void SendAll(Socket socket, nint handle, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload);
}
