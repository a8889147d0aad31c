using System.Net.Sockets;

namespace DapperIpc.Transports;

/// <summary>Maps .NET socket errors onto the library's status codes, keeping the OS message.</summary>
internal static class SocketErrors
{
    public static IpcException ToIpc(SocketException e, string operation)
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
        return new IpcException(status, $"{operation} failed: {e.Message} ({e.SocketErrorCode})", e);
    }
}
