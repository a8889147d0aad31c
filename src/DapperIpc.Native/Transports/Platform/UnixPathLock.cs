using System;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// An exclusive lock on "&lt;path&gt;.lock" for the probe + unlink + bind + listen of a
/// caller-given unix socket path, so two listeners (threads or processes) racing for the
/// same path cannot both win. Held only for that step; the holder removes the lock file
/// before releasing it, so nothing is left behind (Native/path_lock.c says how waiters
/// stay correct). In the JIT (managed tests, no C part) the same protocol runs over
/// .NET's FileShare.None (a non-blocking flock), retried.
/// </summary>
internal sealed unsafe partial class UnixPathLock : IDisposable
{
    private static bool ShimAvailable => !RuntimeFeature.IsDynamicCodeSupported && !OperatingSystem.IsWindows();

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_path_lock", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LockNative(string lockPath, int* fd);

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_path_unlock", StringMarshalling = StringMarshalling.Utf8)]
    private static partial void UnlockNative(string lockPath, int fd);

    private readonly string _lockPath;
    private readonly int _fd = -1;
    private readonly SafeFileHandle? _handle;

    private UnixPathLock(string lockPath, int fd, SafeFileHandle? handle)
    {
        _lockPath = lockPath;
        _fd = fd;
        _handle = handle;
    }

    public static string LockPathFor(string socketPath) => socketPath + ".lock";

    /// <summary>Blocks until the lock is held. Throws IpcException (Io) naming the lock file and the OS reason.</summary>
    public static UnixPathLock? Acquire(string socketPath)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        string lockPath = LockPathFor(socketPath);
        if (ShimAvailable)
        {
            int fd;
            int errno = LockNative(lockPath, &fd);
            if (errno != 0)
            {
                throw new IpcException(IpcStatus.Io,
                    $"cannot lock {lockPath} to bind the unix socket {socketPath}: {LibC.Describe(errno)}");
            }

            return new UnixPathLock(lockPath, fd, null);
        }

        return AcquireManaged(socketPath, lockPath);
    }

    private static UnixPathLock AcquireManaged(string socketPath, string lockPath)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            SafeFileHandle handle;
            try
            {
                handle = File.OpenHandle(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException
                                        && System.Diagnostics.Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(10))
            {
                // Held by another listener for a few system calls (a sharing violation), or
                // removed by it just now: try again.
                Thread.Sleep(1);
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IpcException(IpcStatus.Io,
                    $"cannot lock {lockPath} to bind the unix socket {socketPath}: {e.Message}", e);
            }

            int fd = (int)handle.DangerousGetHandle();
            if (PosixFileKind.IdentityOf(fd).SameFileAs(PosixFileKind.IdentityOf(lockPath)))
            {
                return new UnixPathLock(lockPath, fd, handle);
            }

            handle.Dispose();
        }
    }

    public void Dispose()
    {
        if (_handle is null)
        {
            UnlockNative(_lockPath, _fd);
            return;
        }

        if (PosixFileKind.IdentityOf(_fd).SameFileAs(PosixFileKind.IdentityOf(_lockPath)))
        {
            try
            {
                File.Delete(_lockPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        _handle.Dispose();
    }
}
