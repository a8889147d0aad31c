using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

internal enum FileKind
{
    Missing,
    Socket,
    SymbolicLink,
    Other,
}

/// <summary>
/// lstat's file type, which .NET's public file APIs do not expose (they cannot tell a
/// socket from a regular file). Uses the runtime's own portable shim, which reports the
/// type bits in one layout on every POSIX platform; in the AOT build it is linked in.
/// </summary>
internal static unsafe partial class PosixFileKind
{
    private const int S_IFMT = 0xF000;
    private const int S_IFSOCK = 0xC000;
    private const int S_IFLNK = 0xA000;

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LStat(string path, byte* status);

    public static FileKind Of(string path)
    {
        // FileStatus is { int32 Flags; int32 Mode; ... } and about 140 bytes; give room.
        byte* status = stackalloc byte[512];
        if (LStat(path, status) != 0)
        {
            return FileKind.Missing;
        }

        int mode = *(int*)(status + 4);
        return (mode & S_IFMT) switch
        {
            S_IFSOCK => FileKind.Socket,
            S_IFLNK => FileKind.SymbolicLink,
            _ => FileKind.Other,
        };
    }
}
