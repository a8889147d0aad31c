using System;
using System.Buffers;
using System.Net.Sockets;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// A socket connection on Windows: .NET's span-based Socket calls (Winsock never raises
/// signals). Small frames are joined in a pooled buffer so they leave in one send; large
/// ones go as two sends, which the connection's send lock keeps together. A batch goes
/// frame by frame. Only Windows exercises this file.
/// </summary>
internal sealed class WindowsSocketConnection : SocketConnection
{
    private const int JoinLimit = 64 * 1024;

    public WindowsSocketConnection(Socket socket, ConnectionOptions options, string description) : base(socket, options, description)
    {
    }

    protected override int ReceiveCore(Span<byte> buffer)
    {
        try
        {
            return Socket.Receive(buffer, SocketFlags.None);
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

    protected override int ReceiveCore(Span<byte> buffer, int timeoutMs)
    {
        int micros = timeoutMs >= int.MaxValue / 1000 ? -1 : timeoutMs * 1000;
        try
        {
            if (!Socket.Poll(micros, SelectMode.SelectRead))
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

        return ReceiveCore(buffer);
    }

    // _WSAIOW(IOC_VENDOR, 23): how many segments the stack receives before it acknowledges.
    private const int SIO_TCP_SET_ACK_FREQUENCY = unchecked((int)0x98000017);

    protected override void ConfigureTcpAcks()
    {
        try
        {
            // 1: acknowledge every segment at once (the default, 2, delays up to 200 ms).
            Socket.IOControl(SIO_TCP_SET_ACK_FREQUENCY, BitConverter.GetBytes(1), null);
        }
        catch (SocketException)
        {
            // Older Windows without the ioctl: the connection works, with delayed ACKs.
        }
    }

    /// <summary>Each frame as one binary message: its websocket and DP headers joined, the payload masked into a kept buffer when we are the client.</summary>
    protected override void WriteWebSocket(ReadOnlySpan<NativeFrame> frames)
    {
        AckRidesOnThisWrite();
        Span<byte> header = stackalloc byte[Ws.WsFrame.MaxHeaderSize + FrameHeader.Size];
        for (int i = 0; i < frames.Length; i++)
        {
            int length = FrameHeader.Size + (int)frames[i].Length;
            uint key = WsKeys?.Next() ?? 0;
            int size = Ws.WsFrame.WriteHeader(header, Ws.WsFrame.Binary, (ulong)length, key);
            try
            {
                if (key == 0)
                {
                    FrameHeader.Write(header.Slice(size), (byte)frames[i].Kind, (uint)frames[i].Length);
                    SendAll(header.Slice(0, size + FrameHeader.Size), frames[i].PayloadSpan);
                }
                else
                {
                    byte[] scratch = WsScratch(length);
                    FrameHeader.Write(scratch, (byte)frames[i].Kind, (uint)frames[i].Length);
                    frames[i].PayloadSpan.CopyTo(scratch.AsSpan(FrameHeader.Size));
                    Ws.WsMask.Apply(scratch.AsSpan(0, length), key, 0);
                    SendAll(header.Slice(0, size), scratch.AsSpan(0, length));
                }
            }
            catch (IpcException e)
            {
                throw e.AfterFrames(i);
            }
        }
    }

    protected override void SendControlNow(ReadOnlySpan<byte> frame)
    {
        // Only when there is room now: close() must not wait.
        if (Socket.Poll(0, SelectMode.SelectWrite))
        {
            SendSpan(frame);
        }
    }

    protected override void WritePlain(ReadOnlySpan<NativeFrame> frames)
    {
        AckRidesOnThisWrite();
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        for (int i = 0; i < frames.Length; i++)
        {
            FrameHeader.Write(header, (byte)frames[i].Kind, (uint)frames[i].Length);
            try
            {
                SendAll(header, frames[i].PayloadSpan);
            }
            catch (IpcException e)
            {
                throw e.AfterFrames(i);
            }
        }
    }

    private void SendAll(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
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
                    SendSpan(joined.AsSpan(0, header.Length + payload.Length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(joined);
                }
            }
            else
            {
                SendSpan(header);
                SendSpan(payload);
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

    private void SendSpan(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data.Slice(Socket.Send(data, SocketFlags.None));
        }
    }
}
