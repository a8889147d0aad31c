using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Transports.Adopted;

/// <summary>
/// Connections over streams the host already holds (dapper_ipc_adopt) and over the
/// process's own stdin and stdout (the stdio transport). A socket becomes the platform's
/// socket connection, as if the library had connected it; anything else is driven with
/// read and write (<see cref="FdConnection"/>).
/// </summary>
internal static class Adopter
{
    private static int s_stdioTaken;

    /// <summary>
    /// A connection over <paramref name="read"/> and <paramref name="write"/>: owned
    /// descriptors are closed exactly once, by the connection, or here when this throws.
    /// </summary>
    public static ConnectionBase Adopt(nint read, nint write, bool owned, ConnectionOptions options)
    {
        if (!OperatingSystem.IsWindows())
        {
            bool handedOver = false;
            try
            {
                return AdoptPosix(read, write, owned, options, ref handedOver);
            }
            catch when (owned && !handedOver)
            {
                CloseQuietly(read, write);
                throw;
            }
        }

        throw new IpcException(IpcStatus.Unsupported,
            "adopt is not supported on Windows yet (HANDLEs and SOCKETs); the handles were not touched");
    }

    /// <summary>
    /// The stdio transport: takes fd 0 and fd 1 over (Native/fd_io.c's takeover: private
    /// copies for the library, fd 0 then reads /dev/null and fd 1 writes to stderr) and
    /// connects over them. Once per process.
    /// </summary>
    public static unsafe ConnectionBase Stdio(ConnectionOptions options)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new IpcException(IpcStatus.Unsupported, "the stdio transport is not supported on Windows yet");
        }

        if (Interlocked.Exchange(ref s_stdioTaken, 1) != 0)
        {
            throw new IpcException(IpcStatus.InvalidState,
                "this process's stdin and stdout were taken over by an earlier connect over stdio; a process speaks over its stdio once");
        }

        int input, output;
        if (FdIo.StdioTake(&input, &output) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Volatile.Write(ref s_stdioTaken, 0);
            throw new IpcException(IpcStatus.Io, $"taking stdin and stdout over failed: {LibC.Describe(errno)}");
        }

        return Adopt(input, output, owned: true, options);
    }

    // handedOver: the descriptors now belong to an object that closes them (an owned Socket).
    private static ConnectionBase AdoptPosix(nint read, nint write, bool owned, ConnectionOptions options, ref bool handedOver)
    {
        if (read < 0 || write < 0 || read > int.MaxValue || write > int.MaxValue)
        {
            throw new IpcException(IpcStatus.InvalidArgument, $"handles must be open file descriptors (got {read} and {write})");
        }

        FileKind readKind = PosixFileKind.IdentityOf((int)read).Kind;
        FileKind writeKind = read == write ? readKind : PosixFileKind.IdentityOf((int)write).Kind;
        if (readKind == FileKind.Missing || writeKind == FileKind.Missing)
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"descriptor {(readKind == FileKind.Missing ? read : write)} is not open");
        }

        if (read == write && readKind == FileKind.Socket)
        {
            var socket = new Socket(new SafeSocketHandle(read, ownsHandle: owned));
            handedOver = true;
            try
            {
                if (socket.SocketType != SocketType.Stream)
                {
                    throw new IpcException(IpcStatus.InvalidArgument, $"descriptor {read} is a socket but not a stream socket");
                }

                return SocketConnection.Create(socket, options, $"adopted socket fd {read}");
            }
            catch
            {
                socket.Dispose(); // closes the descriptor only when owned
                throw;
            }
        }

        if (readKind == FileKind.Socket || writeKind == FileKind.Socket)
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"descriptors {read} and {write}: a socket is adopted as one handle (read_handle == write_handle)");
        }

        return new FdConnection((int)read, (int)write, owned, options,
            read == write ? $"adopted fd {read}" : $"adopted fds {read} (read) and {write} (write)");
    }

    /// <summary>Closes owned descriptors adopt never got to use (a bad manager handle, bad flags).</summary>
    public static void CloseOwned(nint read, nint write) => CloseQuietly(read, write);

    private static void CloseQuietly(nint read, nint write)
    {
        if (read >= 0 && read <= int.MaxValue)
        {
            _ = LibC.Close((int)read);
        }

        if (write != read && write >= 0 && write <= int.MaxValue)
        {
            _ = LibC.Close((int)write);
        }
    }
}
