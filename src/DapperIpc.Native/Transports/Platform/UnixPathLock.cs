using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// An exclusive lock on "&lt;path&gt;.lock" for the probe + unlink + bind + listen of a
/// caller-given unix socket path, so two listeners (threads or processes) racing for the
/// same path cannot both win. Held only for that step; the holder removes the lock file
/// before releasing it, so nothing is left behind (Native/path_lock.c says how waiters
/// stay correct).
/// </summary>
internal sealed unsafe partial class UnixPathLock : IDisposable
{
    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_path_lock", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LockNative(string lockPath, int timeoutMs, int* fd);

    /// <summary>The lock is held for a few system calls; one held this long is not a listener being set up.</summary>
    public const int TimeoutMs = 5000;

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_path_unlock", StringMarshalling = StringMarshalling.Utf8)]
    private static partial void UnlockNative(string lockPath, int fd);

    private readonly string _lockPath;
    private readonly int _fd;

    private UnixPathLock(string lockPath, int fd)
    {
        _lockPath = lockPath;
        _fd = fd;
    }

    public static string LockPathFor(string socketPath) => socketPath + ".lock";

    /// <summary>
    /// Blocks until the lock is held, for at most <see cref="TimeoutMs"/>. Throws IpcException:
    /// AddressInUse when someone else held it all that time, PathExists when the lock file
    /// belongs to another user, Io naming the lock file and the OS reason otherwise.
    /// </summary>
    public static UnixPathLock? Acquire(string socketPath)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        string lockPath = LockPathFor(socketPath);
        int fd;
        int errno = LockNative(lockPath, TimeoutMs, &fd);
        if (errno == 0)
        {
            return new UnixPathLock(lockPath, fd);
        }

        ErrnoClass error = SocketShim.Classify(errno);
        if (error == ErrnoClass.NotPermitted)
        {
            throw new IpcException(IpcStatus.PathExists,
                $"{lockPath} belongs to another user; it is left alone and the unix socket {socketPath} is not bound");
        }

        if (error == ErrnoClass.TimedOut)
        {
            throw HeldTooLong(socketPath, lockPath);
        }

        throw new IpcException(IpcStatus.Io,
            $"cannot lock {lockPath} to bind the unix socket {socketPath}: {LibC.Describe(errno)}");
    }

    private static IpcException HeldTooLong(string socketPath, string lockPath) => new(IpcStatus.AddressInUse,
        $"another process has held {lockPath} for over {TimeoutMs / 1000} s; the unix socket {socketPath} is not bound");

    public void Dispose() => UnlockNative(_lockPath, _fd);
}
