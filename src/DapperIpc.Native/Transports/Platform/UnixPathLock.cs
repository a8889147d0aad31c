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
    private static partial int LockNative(string lockPath, int timeoutMs, int* fd);

    /// <summary>The lock is held for a few system calls; one held this long is not a listener being set up.</summary>
    public const int TimeoutMs = 5000;

    private const int EPERM = 1;
    private const int ETIMEDOUT_LINUX = 110;
    private const int ETIMEDOUT_BSD = 60;

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
        if (ShimAvailable)
        {
            int fd;
            int errno = LockNative(lockPath, TimeoutMs, &fd);
            if (errno == EPERM)
            {
                throw new IpcException(IpcStatus.PathExists,
                    $"{lockPath} belongs to another user; it is left alone and the unix socket {socketPath} is not bound");
            }

            if (errno == (OperatingSystem.IsLinux() ? ETIMEDOUT_LINUX : ETIMEDOUT_BSD))
            {
                throw HeldTooLong(socketPath, lockPath);
            }

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
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                if (System.Diagnostics.Stopwatch.GetElapsedTime(start) > TimeSpan.FromMilliseconds(TimeoutMs))
                {
                    throw HeldTooLong(socketPath, lockPath);
                }

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

    private static IpcException HeldTooLong(string socketPath, string lockPath) => new(IpcStatus.AddressInUse,
        $"another process has held {lockPath} for over {TimeoutMs / 1000} s; the unix socket {socketPath} is not bound");

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
