using System;
using System.IO;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using DapperIpc.Transports;

namespace DapperIpc.Interop;

/// <summary>The calling thread's last error message (dapper_ipc_last_error).</summary>
internal static class LastError
{
    [ThreadStatic]
    private static string? t_message;

    public static string Message => t_message ?? string.Empty;

    public static int Ok()
    {
        t_message = null;
        return (int)IpcStatus.Ok;
    }

    /// <summary>
    /// Success that keeps the thread's message: for the destroy calls, which finalizers
    /// (Python's __del__, a C++ destructor) make at any moment, also between a failing call
    /// and the read of its message, as POSIX free() keeps errno.
    /// </summary>
    public static int Unchanged() => (int)IpcStatus.Ok;

    /// <summary>
    /// Turns anything thrown inside an export into a status code and a message; nothing
    /// escapes. An operating-system failure the core did not wrap (a socket, file or
    /// permission error: out of descriptors, ...) is E_IO; only anything else is a bug,
    /// E_INTERNAL. No message carries a .NET type name.
    /// </summary>
    public static int Fail(Exception e, [CallerMemberName] string where = "")
    {
        switch (e)
        {
            case IpcException ipc:
                t_message = ipc.Message;
                return (int)ipc.Status;
            case SocketException se:
                t_message = $"{where}: a socket call failed: {SocketErrors.Reason(se)}";
                return (int)IpcStatus.Io;
            case IOException or UnauthorizedAccessException:
                t_message = IsOutOfDescriptors(e)
                    ? $"{where}: too many open files: the process has reached its file descriptor limit ({e.Message})"
                    : $"{where}: an I/O call failed: {e.Message}";
                return (int)IpcStatus.Io;
            default:
                t_message = $"internal error in {where}: {e.Message}";
                return (int)IpcStatus.Internal;
        }
    }

    // EMFILE and ENFILE, as the OS words them (.NET puts strerror in the message).
    private static bool IsOutOfDescriptors(Exception e)
        => e.Message.Contains("Too many open files", StringComparison.OrdinalIgnoreCase);

    public static int Fail(IpcStatus status, string message)
    {
        t_message = message;
        return (int)status;
    }
}
