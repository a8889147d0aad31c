using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

internal enum FileKind
{
    Missing,
    Socket,
    SymbolicLink,
    Other,
}

/// <summary>What is at a path (lstat, never following a link): its kind and the (device, inode) pair naming it.</summary>
internal readonly record struct FileIdentity(FileKind Kind, ulong Device, ulong Inode)
{
    public static readonly FileIdentity Missing = new(FileKind.Missing, 0, 0);

    /// <summary>True when <paramref name="other"/> is the very same file (not merely one at the same path).</summary>
    public bool SameFileAs(FileIdentity other)
        => Kind != FileKind.Missing && other.Kind == Kind && other.Device == Device && other.Inode == Inode;
}

/// <summary>
/// lstat's file type and identity, which .NET's public file APIs do not expose (they
/// cannot tell a socket from a regular file, and have no inode). In the AOT library
/// this is Native/file_identity.c, which reads struct stat in C. The JIT (the managed
/// tests, where the C part is not linked) uses the runtime's own shim instead, whose
/// FileStatus layout is the .NET 10 one.
/// </summary>
internal static unsafe partial class PosixFileKind
{
    private static bool ShimAvailable => !RuntimeFeature.IsDynamicCodeSupported && !System.OperatingSystem.IsWindows();

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_file_identity", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileIdentityNative(string path, int* kind, ulong* dev, ulong* ino);

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_fd_identity")]
    private static partial int FdIdentityNative(int fd, int* kind, ulong* dev, ulong* ino);

    public static FileKind Of(string path) => IdentityOf(path).Kind;

    /// <summary>lstat(path); <see cref="FileIdentity.Missing"/> when nothing is there (or it cannot be looked at).</summary>
    public static FileIdentity IdentityOf(string path)
    {
        if (ShimAvailable)
        {
            int kind;
            ulong dev, ino;
            return FileIdentityNative(path, &kind, &dev, &ino) == 0 ? new FileIdentity((FileKind)kind, dev, ino) : FileIdentity.Missing;
        }

        byte* status = stackalloc byte[FileStatusRoom];
        return JitLStat(path, status) == 0 ? FromFileStatus(status) : FileIdentity.Missing;
    }

    /// <summary>fstat(fd).</summary>
    public static FileIdentity IdentityOf(int fd)
    {
        if (ShimAvailable)
        {
            int kind;
            ulong dev, ino;
            return FdIdentityNative(fd, &kind, &dev, &ino) == 0 ? new FileIdentity((FileKind)kind, dev, ino) : FileIdentity.Missing;
        }

        byte* status = stackalloc byte[FileStatusRoom];
        return JitFStat(fd, status) == 0 ? FromFileStatus(status) : FileIdentity.Missing;
    }

    // ---- JIT only: the runtime's System.Native shim (FileStatus, .NET 10 layout) ----

    private const int FileStatusRoom = 512;
    private const int ModeOffset = 4;   // int32 Flags; int32 Mode; ...
    private const int DevOffset = 88;   // ... int64 BirthTimeNsec; int64 Dev; int64 RDev; int64 Ino; ...
    private const int InoOffset = 104;
    private const int S_IFMT = 0xF000;
    private const int S_IFSOCK = 0xC000;
    private const int S_IFLNK = 0xA000;

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int JitLStat(string path, byte* status);

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_FStat", SetLastError = true)]
    private static partial int JitFStat(nint fd, byte* status);

    private static FileIdentity FromFileStatus(byte* status)
    {
        int mode = *(int*)(status + ModeOffset);
        FileKind kind = (mode & S_IFMT) switch
        {
            S_IFSOCK => FileKind.Socket,
            S_IFLNK => FileKind.SymbolicLink,
            _ => FileKind.Other,
        };
        return new FileIdentity(kind, *(ulong*)(status + DevOffset), *(ulong*)(status + InoOffset));
    }
}
