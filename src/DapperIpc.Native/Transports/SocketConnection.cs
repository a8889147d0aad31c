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

    // End-of-file from the peer (not from our own read shutdown): whether closing may be a
    // FIN or must be a reset (see DisposeCore).
    private volatile bool _peerClosed;
    private volatile bool _readShut;

    public SocketConnection(Socket socket, ConnectionOptions options, string description) : base(options.MaxPayload)
    {
        _socket = socket;
        _io = SocketIO.Current;
        _io.Configure(socket, options.SendTimeoutMs);
        _handle = socket.SafeHandle.DangerousGetHandle();
        Description = description;
    }

    public override string Description { get; }

    public override int Receive(Span<byte> buffer)
    {
        int n = _io.Receive(_socket, _handle, buffer);
        if (n == 0 && !_readShut)
        {
            _peerClosed = true;
        }

        return n;
    }

    protected override void SendGathered(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
        => _io.SendAll(_socket, _handle, header, payload);

    // POSIX gathers a batch into few sendmsg calls; Windows sends frame by frame (the base).
    protected override void SendFramesCore(ReadOnlySpan<OutgoingFrame> frames, ref int framesSent)
    {
        if (_io is PosixSocketIO posix)
        {
            posix.SendFrames(_socket, _handle, frames, ref framesSent);
        }
        else
        {
            base.SendFramesCore(frames, ref framesSent);
        }
    }

    /// <summary>Fills <paramref name="buffer"/> or returns false (end of stream, or nothing for <paramref name="timeoutMs"/>). For handshakes, before the reader starts.</summary>
    public bool ReceiveExactly(Span<byte> buffer, int timeoutMs)
    {
        _socket.ReceiveTimeout = timeoutMs;
        try
        {
            int got = 0;
            while (got < buffer.Length)
            {
                int n = _socket.Receive(buffer.Slice(got));
                if (n == 0)
                {
                    return false;
                }

                got += n;
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            _socket.ReceiveTimeout = 0;
        }
    }

    protected override void ShutdownCore()
    {
        _readShut = true;
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

    protected override void ShutdownSendCore()
    {
        try
        {
            // FIN after everything queued: the peer reads all we sent, then end-of-file.
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    protected override void DrainCore(long deadline)
    {
        // Nothing read here is delivered: the host closed. Reading until the peer's
        // end-of-file empties the receive queue, so the close that follows is a FIN, not
        // a reset that would drop frames still in our send queue.
        Span<byte> scratch = stackalloc byte[16 * 1024];
        try
        {
            while (true)
            {
                long left = deadline - System.Diagnostics.Stopwatch.GetTimestamp();
                if (left <= 0)
                {
                    return;
                }

                int micros = (int)Math.Min(int.MaxValue, left * 1_000_000 / System.Diagnostics.Stopwatch.Frequency);
                if (!_socket.Poll(micros, SelectMode.SelectRead) || Receive(scratch) <= 0)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IpcException or SocketException or ObjectDisposedException)
        {
            // Reset or gone: nothing left to keep.
        }
    }

    protected override void DisposeCore()
    {
        if (!_peerClosed && _socket.ProtocolType == ProtocolType.Tcp)
        {
            // The peer has not closed (the linger ran out, or abort): reset. A plain close
            // could leave our side in FIN-WAIT-2 with a zero receive window, which answers a
            // peer that keeps sending with window probes but never a reset, so a flooding
            // peer would block for a minute instead of learning at once that we are gone.
            try
            {
                _socket.LingerState = new LingerOption(true, 0);
            }
            catch (SocketException)
            {
            }
        }

        _socket.Dispose();
    }
}
