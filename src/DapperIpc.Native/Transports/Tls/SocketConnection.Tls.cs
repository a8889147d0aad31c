using System;
using System.Runtime.InteropServices;
using DapperIpc.Transports.Platform;
using DapperIpc.Transports.Tls;

namespace DapperIpc.Transports;

/// <summary>The tls half of a socket connection: reads and writes through its session (Native/tls.c).</summary>
internal abstract partial class SocketConnection
{
    /// <summary>
    /// The client's tls handshake on this fresh connection, within
    /// <see cref="TlsListener.HandshakeTimeoutMs"/>; then every byte goes through the session.
    /// A refusal (the pin, the trust store, a listener that does not speak tls) is Protocol.
    /// </summary>
    internal void StartTlsClient(TlsContext context, string host, string description)
    {
        TlsSession session = context.NewSession((int)Socket.SafeHandle.DangerousGetHandle(), host);
        try
        {
            long deadline = Deadline(TlsListener.HandshakeTimeoutMs);
            while (true)
            {
                int r = TlsShim.Handshake(session.Handle);
                if (r == 0)
                {
                    break;
                }

                if (r < 0)
                {
                    throw new IpcException(IpcStatus.Protocol, $"tls to {description}: {session.LastError}");
                }

                long left = deadline - System.Diagnostics.Stopwatch.GetTimestamp();
                if (left <= 0)
                {
                    throw new IpcException(IpcStatus.Timeout, $"tls to {description}: the listener did not finish the handshake within {TlsListener.HandshakeTimeoutMs} ms");
                }

                long micros = Math.Min(left * 1_000_000 / System.Diagnostics.Stopwatch.Frequency + 1, int.MaxValue);
                Socket.Poll((int)micros, r == 2 ? System.Net.Sockets.SelectMode.SelectWrite : System.Net.Sockets.SelectMode.SelectRead);
            }
        }
        catch
        {
            session.Dispose();
            throw;
        }

        _tls = session;
    }

    /// <summary>The send timeout of the options (negative or 0: none), for tls writes, which wait in the shim.</summary>
    protected int SendTimeoutMs => _sendTimeoutMs;

    /// <summary>Reads through the session: bytes, 0 at end of stream, -1 when nothing came within <paramref name="timeoutMs"/> (negative: no limit).</summary>
    protected unsafe int TlsReceive(Span<byte> buffer, int timeoutMs)
    {
        TlsSession tls = _tls!;
        if (!tls.Enter())
        {
            throw new IpcException(IpcStatus.Closed, "the connection is closed");
        }

        try
        {
            fixed (byte* p = buffer)
            {
                nint n = TlsShim.Read(tls.Handle, p, (nuint)buffer.Length, timeoutMs < 0 ? -1 : timeoutMs);
                if (n >= 0)
                {
                    return (int)n;
                }

                return n == (int)ErrnoClass.WouldBlock && timeoutMs >= 0 ? -1 : throw TlsError(tls, (int)n, Marshal.GetLastPInvokeError(), "tls read");
            }
        }
        finally
        {
            tls.Exit();
        }
    }

    /// <summary>
    /// Writes the iovecs through the session within <paramref name="timeoutMs"/> (negative or 0:
    /// none): 0, or the class that stopped it, with <paramref name="sent"/> plaintext bytes
    /// accepted and <paramref name="cut"/> when a record was left half out.
    /// </summary>
    protected unsafe int TlsWrite(SocketShim.IoVec* iov, int count, int timeoutMs, out long sent, out bool cut, out int errno)
    {
        TlsSession tls = _tls!;
        long s = 0;
        int c = 0;
        errno = 0;
        if (!tls.Enter())
        {
            sent = 0;
            cut = false;
            return (int)ErrnoClass.PeerGone;
        }

        try
        {
            nint result = TlsShim.WriteV(tls.Handle, iov, count, timeoutMs <= 0 ? -1 : timeoutMs, &s, &c);
            if (result != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                _tlsWriteError = errno == 0 ? tls.LastError : null;
            }

            sent = s;
            cut = c != 0;
            return (int)result;
        }
        finally
        {
            tls.Exit();
        }
    }

    // OpenSSL's reason for the last failed write (errno 0), for the exception.
    private string? _tlsWriteError;

    /// <summary>The exception for a failed tls write of class <paramref name="errnoClass"/>.</summary>
    protected IpcException TlsWriteError(int errnoClass, int errno, int framesSent)
    {
        string text = errno != 0
            ? $"tls write failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})"
            : _tlsWriteError ?? "tls write failed";
        return errnoClass == (int)ErrnoClass.PeerGone
            ? new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({text})") { FramesSent = framesSent, StreamCut = true }
            : new IpcException(IpcStatus.Io, text) { FramesSent = framesSent, StreamCut = true };
    }

    private void TlsSendAll(ReadOnlySpan<byte> data, int timeoutMs)
    {
        unsafe
        {
            fixed (byte* p = data)
            {
                SocketShim.IoVec iov = new() { Base = p, Length = (nuint)data.Length };
                int result = TlsWrite(&iov, 1, timeoutMs, out _, out _, out int errno);
                if (result != 0)
                {
                    throw TlsWriteError(result, errno, 0);
                }
            }
        }
    }

    private int TlsPending()
    {
        TlsSession tls = _tls!;
        if (!tls.Enter())
        {
            return 0;
        }

        try
        {
            return TlsShim.Pending(tls.Handle);
        }
        finally
        {
            tls.Exit();
        }
    }

    private void TlsCloseNotify()
    {
        TlsSession? tls = _tls;
        if (tls is null || !tls.Enter())
        {
            return;
        }

        try
        {
            TlsShim.CloseNotify(tls.Handle);
        }
        finally
        {
            tls.Exit();
        }
    }

    private static IpcException TlsError(TlsSession tls, int errnoClass, int errno, string call)
    {
        string text = errno != 0 ? $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})" : tls.LastError;
        return errnoClass == (int)ErrnoClass.PeerGone
            ? new IpcException(IpcStatus.Closed, $"the peer has closed the connection ({text})")
            : new IpcException(IpcStatus.Io, text);
    }
}
