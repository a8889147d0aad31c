using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// recv and sendmsg on the socket's file descriptor. The socket is in blocking mode
/// (it is only ever used synchronously), so the calls block this thread and nothing
/// else: no event loop, no thread hop.
/// </summary>
internal abstract unsafe class PosixSocketIO : SocketIO
{
    public override int Receive(Socket socket, nint handle, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = LibC.Recv(handle, p, (nuint)buffer.Length, 0);
                if (n >= 0)
                {
                    return (int)n;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    throw Error(errno, "recv");
                }
            }
        }
    }

    public override void SendAll(Socket socket, nint handle, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload)
    {
        fixed (byte* h = header)
        fixed (byte* p = payload)
        {
            LibC.IoVec* iov = stackalloc LibC.IoVec[2];
            iov[0].Base = h;
            iov[0].Length = (nuint)header.Length;
            iov[1].Base = p;
            iov[1].Length = (nuint)payload.Length;
            int first = 0;
            int count = payload.Length == 0 ? 1 : 2;
            long total = header.Length + (long)payload.Length, sent = 0;
            while (first < count)
            {
                nint n = SendMsg(handle, iov + first, count - first);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    if (IsTimeout(errno))
                    {
                        throw SendTimedOut(sent, total);
                    }

                    throw Error(errno, "send");
                }

                sent += n;

                // A partial write (large frame, full socket buffer): skip what went out.
                nuint advance = (nuint)n;
                while (first < count && advance >= iov[first].Length)
                {
                    advance -= iov[first].Length;
                    first++;
                }

                if (first < count)
                {
                    iov[first].Base = (byte*)iov[first].Base + advance;
                    iov[first].Length -= advance;
                }
            }
        }
    }

    /// <summary>sendmsg with this platform's msghdr layout and no-SIGPIPE mechanism.</summary>
    protected abstract nint SendMsg(nint handle, LibC.IoVec* iov, int count);

    /// <summary>True for the errno values that mean the peer is gone.</summary>
    protected abstract bool IsPeerGone(int errno);

    /// <summary>True for EAGAIN/EWOULDBLOCK: SO_SNDTIMEO ran out.</summary>
    protected abstract bool IsTimeout(int errno);

    internal static IpcException SendTimedOut(long sent, long total) => sent == 0
        ? new IpcException(IpcStatus.SendTimeout, "send timed out: the peer has not read for the whole send timeout; nothing of the frame was sent and the connection is still usable")
        : new IpcException(IpcStatus.SendTimeout, $"send timed out after {sent} of {total} bytes of the frame: the peer stopped reading; the stream is cut, so the connection is closed") { StreamCut = true };

    private IpcException Error(int errno, string call)
    {
        string text = $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
        return IsPeerGone(errno)
            ? new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({text})")
            : new IpcException(IpcStatus.Io, text);
    }
}
