using System.Net.Sockets;

namespace DapperIpc.Transports;

/// <summary>Maps .NET socket errors onto the library's status codes, keeping the OS message.</summary>
internal static class SocketErrors
{
    /// <param name="unixPath">The unix socket path the call was about, if any: it makes the reasons exact.</param>
    public static IpcException ToIpc(SocketException e, string operation, string? unixPath = null)
    {
        IpcStatus status = e.SocketErrorCode switch
        {
            SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
                or SocketError.NotConnected or SocketError.Disconnecting => IpcStatus.Closed,
            SocketError.AddressAlreadyInUse => IpcStatus.AddressInUse,
            SocketError.ConnectionRefused => IpcStatus.ConnectionRefused,
            SocketError.TimedOut => IpcStatus.Timeout,
            SocketError.AddressFamilyNotSupported or SocketError.ProtocolNotSupported
                or SocketError.SocketNotSupported or SocketError.OperationNotSupported => IpcStatus.Unsupported,
            SocketError.OperationAborted or SocketError.Interrupted => IpcStatus.Cancelled,
            _ => IpcStatus.Io,
        };
        return new IpcException(status, $"{operation} failed: {Reason(e, unixPath)}", e)
        {
            OutOfDescriptors = e.SocketErrorCode == SocketError.TooManyOpenSockets,
        };
    }

    /// <summary>
    /// Shuts both directions down, to wake a thread polling the socket or to let its peer see
    /// the end before the handle goes. A socket already disconnected throws: nothing is left to do.
    /// </summary>
    public static void ShutdownQuietly(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>
    /// The reason in words. .NET reports a missing unix socket file (ENOENT) as "Cannot
    /// assign requested address" (EADDRNOTAVAIL's text), so a unix path gets its own.
    /// </summary>
    public static string Reason(SocketException e, string? unixPath = null) => e.SocketErrorCode switch
    {
        SocketError.TooManyOpenSockets =>
            "too many open files: the process has reached its file descriptor limit (EMFILE/ENFILE)",
        SocketError.AddressNotAvailable when unixPath is not null =>
            $"no socket file at {unixPath} (No such file or directory)",
        SocketError.ConnectionRefused when unixPath is not null =>
            $"connection refused: nobody is listening on the socket file {unixPath}",
        SocketError.AccessDenied when unixPath is not null =>
            $"permission denied for {unixPath}",
        _ => $"{e.Message} ({e.SocketErrorCode})",
    };
}
