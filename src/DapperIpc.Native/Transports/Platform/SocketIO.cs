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

        if (OperatingSystem.IsLinux())
        {
            return new LinuxSocketIO();
        }

        return new BsdSocketIO();
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

    /// <summary>
    /// True where a delayed ACK can be sent at once on request (Linux: TCP_QUICKACK), which
    /// <see cref="FlushDelayedAck"/> does.
    /// </summary>
    public virtual bool FlushesDelayedAcks => false;

    /// <summary>
    /// Sends the ACK the kernel is holding back for data already read, now; best effort,
    /// never throws. Called before a receive that may wait, when data was read and nothing
    /// sent since (the ACK would otherwise have ridden on our next frame).
    /// </summary>
    public virtual void FlushDelayedAck(nint handle)
    {
    }

    /// <summary>
    /// Per-connection tcp settings against delayed-ACK stalls: a peer without TCP_NODELAY
    /// that writes two small frames back to back holds the second (Nagle) until the first
    /// is acknowledged, and a receiver that delays its ACK (40 ms on Linux, up to 200 ms
    /// on Windows) stalls every such answer. Linux: nothing here; the connection flushes a
    /// held-back ACK before it waits for more data (<see cref="FlushDelayedAck"/>), so an
    /// ACK still rides on the reply in a plain request/response exchange. Windows:
    /// SIO_TCP_SET_ACK_FREQUENCY 1 (acknowledge every segment). macOS has no per-socket
    /// knob: its stack acknowledges at once while the connection is in its interactive
    /// mode, and the system-wide net.inet.tcp.delayed_ack sysctl governs the rest.
    /// </summary>
    public virtual void ConfigureTcpAcks(Socket socket)
    {
    }

    /// <summary>Blocking receive into <paramref name="buffer"/>; 0 at end of stream. Throws IpcException.</summary>
    public abstract int Receive(Socket socket, nint handle, Span<byte> buffer);

    /// <summary>
    /// Receive that waits at most <paramref name="timeoutMs"/> (&gt;= 0); -1 when nothing
    /// came in time. By default a poll, then a receive.
    /// </summary>
    public virtual int Receive(Socket socket, nint handle, Span<byte> buffer, int timeoutMs)
    {
        int micros = timeoutMs >= int.MaxValue / 1000 ? -1 : timeoutMs * 1000;
        try
        {
            if (!socket.Poll(micros, SelectMode.SelectRead))
            {
                return -1;
            }
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, "poll");
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }

        return Receive(socket, handle, buffer);
    }

    /// <summary>Blocking write of header then payload, as one gathered write where the platform has one. Throws IpcException.</summary>
    public abstract void SendAll(Socket socket, nint handle, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload);
}
