using System;
using System.Buffers;
using System.Net.Sockets;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// Windows: .NET's span-based Socket calls (Winsock never raises signals). Small frames
/// are joined in a pooled buffer so they leave in one send; large ones go as two sends,
/// which the connection's send lock keeps together. Only Windows exercises this file.
/// </summary>
internal sealed class WindowsSocketIO : SocketIO
{
    private const int JoinLimit = 64 * 1024;

    // _WSAIOW(IOC_VENDOR, 23): how many segments the stack receives before it acknowledges.
    private const int SIO_TCP_SET_ACK_FREQUENCY = unchecked((int)0x98000017);

    public override void ConfigureTcpAcks(Socket socket)
    {
        try
        {
            // 1: acknowledge every segment at once (the default, 2, delays up to 200 ms).
            socket.IOControl(SIO_TCP_SET_ACK_FREQUENCY, BitConverter.GetBytes(1), null);
        }
        catch (SocketException)
        {
            // Older Windows without the ioctl: the connection works, with delayed ACKs.
        }
    }

    public override int Receive(Socket socket, nint handle, Span<byte> buffer)
    {
        try
        {
            return socket.Receive(buffer, SocketFlags.None);
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, "receive");
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    public override void SendAll(Socket socket, nint handle, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        try
        {
            if (payload.Length <= JoinLimit)
            {
                byte[] joined = ArrayPool<byte>.Shared.Rent(header.Length + payload.Length);
                try
                {
                    header.CopyTo(joined);
                    payload.CopyTo(joined.AsSpan(header.Length));
                    SendSpan(socket, joined.AsSpan(0, header.Length + payload.Length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(joined);
                }
            }
            else
            {
                SendSpan(socket, header);
                SendSpan(socket, payload);
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            // Winsock does not say how much went out before the timeout: treat the stream as cut.
            throw new IpcException(IpcStatus.SendTimeout,
                "send timed out: the peer stopped reading; the stream may be cut, so the connection is closed") { StreamCut = true };
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, "send");
        }
        catch (ObjectDisposedException)
        {
            throw new IpcException(IpcStatus.Closed, "the connection is closed");
        }
    }

    private static void SendSpan(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data.Slice(socket.Send(data, SocketFlags.None));
        }
    }
}
