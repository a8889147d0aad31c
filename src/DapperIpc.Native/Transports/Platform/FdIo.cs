using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// Native/fd_io.c: reads and writes on a descriptor that is not a socket (a pipe), each
/// waiting with poll on the descriptor and a wake pipe, without touching its flags; and the
/// stdio takeover. Failures leave errno for <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
internal static unsafe partial class FdIo
{
    private const string Library = "dapper_ipc_shim";

    /// <summary>The wait ran out.</summary>
    public const int TimedOut = -2;

    /// <summary>The wake pipe was written: the connection is closing.</summary>
    public const int Woken = -3;

    [LibraryImport(Library, EntryPoint = "dapper_ipc_fd_read", SetLastError = true)]
    public static partial nint Read(int fd, int wake, byte* buffer, nuint length, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_fd_writev", SetLastError = true)]
    public static partial nint WriteV(int fd, int wake, SocketShim.IoVec* iov, int count, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_wake_pipe", SetLastError = true)]
    public static partial int WakePipe(int* fds);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_wake")]
    public static partial void Wake(int fd);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_stdio_take", SetLastError = true)]
    public static partial int StdioTake(int* input, int* output);
}
