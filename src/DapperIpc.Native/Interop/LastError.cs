using System;

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

    /// <summary>Turns anything thrown inside an export into a status code and a message; nothing escapes.</summary>
    public static int Fail(Exception e)
    {
        if (e is IpcException ipc)
        {
            t_message = ipc.Message;
            return (int)ipc.Status;
        }

        t_message = $"internal error: {e.GetType().FullName}: {e.Message}";
        return (int)IpcStatus.Internal;
    }

    public static int Fail(IpcStatus status, string message)
    {
        t_message = message;
        return (int)status;
    }
}
