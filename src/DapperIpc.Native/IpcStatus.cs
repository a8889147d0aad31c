namespace DapperIpc;

/// <summary>Status codes of the C ABI; the values are those of <c>dapper_ipc_status</c> in include/dapper_ipc.h.</summary>
public enum IpcStatus
{
    Ok = 0,
    InvalidArgument = -1,
    InvalidHandle = -2,
    InvalidState = -3,
    BufferTooSmall = -4,
    NotConnected = -5,
    Timeout = -6,
    Unsupported = -7,
    AddressInUse = -8,
    ConnectionRefused = -9,
    Closed = -10,
    Protocol = -11,
    FrameTooLarge = -12,
    Io = -13,
    PathTooLong = -14,
    Cancelled = -15,
    PathExists = -16,
    SendTimeout = -17,
    Internal = -99,
}
