using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// Creates a unix stream socket bound to a path. The bind is done by Native/unix_bind.c
/// and .NET gets the handle: .NET's Socket unlinks a path it bound itself when it is
/// disposed, by name, which would remove whatever is at the path by then (a file put
/// there since, another listener's socket). Windows (AF_UNIX there has no C part) lets
/// .NET bind, and keeps that behaviour.
/// </summary>
internal static unsafe partial class UnixBind
{
    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_unix_bind", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int BindNative(string path, int* fd);

    /// <summary>Throws IpcException (AddressInUse, Io) or, on Windows, SocketException.</summary>
    public static Socket Create(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Bind(new UnixDomainSocketEndPoint(path));
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        int fd;
        int errno = BindNative(path, &fd);
        if (errno == 0)
        {
            return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        }

        ErrnoClass error = SocketShim.Classify(errno);
        if (error == ErrnoClass.AddressInUse)
        {
            throw new IpcException(IpcStatus.AddressInUse, $"unix socket path {path} is already in use");
        }

        throw new IpcException(IpcStatus.Io, error == ErrnoClass.NoDescriptors
            ? $"binding unix socket {path} failed: too many open files: the process has reached its file descriptor limit ({LibC.Describe(errno)})"
            : $"binding unix socket {path} failed: {LibC.Describe(errno)}")
        {
            OutOfDescriptors = error == ErrnoClass.NoDescriptors,
        };
    }
}
