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
/// cannot tell a socket from a regular file, and have no inode): Native/file_identity.c,
/// which reads struct stat in C (linked into the AOT library; libdapper_ipc_shim in a
/// JIT build).
/// </summary>
internal static unsafe partial class PosixFileKind
{
    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_file_identity", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileIdentityNative(string path, int* kind, ulong* dev, ulong* ino);

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_fd_identity")]
    private static partial int FdIdentityNative(int fd, int* kind, ulong* dev, ulong* ino);

    public static FileKind Of(string path) => IdentityOf(path).Kind;

    /// <summary>lstat(path); <see cref="FileIdentity.Missing"/> when nothing is there (or it cannot be looked at).</summary>
    public static FileIdentity IdentityOf(string path)
    {
        int kind;
        ulong dev, ino;
        return FileIdentityNative(path, &kind, &dev, &ino) == 0 ? new FileIdentity((FileKind)kind, dev, ino) : FileIdentity.Missing;
    }

    /// <summary>fstat(fd).</summary>
    public static FileIdentity IdentityOf(int fd)
    {
        int kind;
        ulong dev, ino;
        return FdIdentityNative(fd, &kind, &dev, &ino) == 0 ? new FileIdentity((FileKind)kind, dev, ino) : FileIdentity.Missing;
    }
}
