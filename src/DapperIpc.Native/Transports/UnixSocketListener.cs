using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using DapperIpc.Diagnostics;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Transports;

/// <summary>
/// A stream Unix-domain socket listener. By default the socket lives in a fresh private
/// directory (0700) as a 0600 file; both are removed on dispose. A caller-given path is
/// used as is, within sun_path, and nothing found there is removed unless it is a
/// socket nobody listens on any more.
/// </summary>
internal sealed class UnixSocketListener : SocketListener
{
    private const int Backlog = 16;

    private readonly string _path;
    private readonly string? _ownDirectory;
    private readonly FileIdentity _bound;
    private readonly bool _shm;

    private UnixSocketListener(Socket socket, string path, string? ownDirectory, FileIdentity bound, ConnectionOptions options, bool shm)
        : base(socket, options)
    {
        _path = path;
        _ownDirectory = ownDirectory;
        _bound = bound;
        _shm = shm;
        LauncherArgs = ["--ipc", shm ? "shm" : "unix", "--ipc-path", path];
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    /// <summary>"unix:path", or "shm:path" for the shared-memory transport, whose rendezvous is this socket.</summary>
    public override string Description => (_shm ? "shm:" : "unix:") + _path;

    /// <summary>
    /// Binds and listens. Throws IpcException: PathTooLong, PathExists or AddressInUse
    /// for a caller-given path that cannot be used, Io naming the path and the OS reason
    /// when it cannot be bound (a missing directory, no permission), Unsupported when
    /// unix sockets do not exist here. A caller-given path is probed, cleared of a stale
    /// socket, bound and listened on under <see cref="UnixPathLock"/>, so of two
    /// listeners racing for it exactly one wins and the other gets AddressInUse.
    /// </summary>
    public static UnixSocketListener Create(string? path, ConnectionOptions options, bool shm = false)
    {
        if (!Socket.OSSupportsUnixDomainSockets)
        {
            throw new IpcException(IpcStatus.Unsupported, "unix domain sockets are not supported on this system");
        }

        if (path is null)
        {
            string ownDirectory = UnixSocketPath.CreatePrivateDirectory();
            return Bind(Path.Combine(ownDirectory, UnixSocketPath.SocketFileName), ownDirectory, options, shm);
        }

        path = Path.GetFullPath(path);
        UnixSocketPath.CheckLength(path);
        string? directory = Path.GetDirectoryName(path);
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new IpcException(IpcStatus.Io,
                $"cannot bind the unix socket {path}: its directory {directory} does not exist (No such file or directory)");
        }

        using (UnixPathLock.Acquire(path))
        {
            ClearStaleSocket(path);
            return Bind(path, null, options, shm);
        }
    }

    private static UnixSocketListener Bind(string path, string? ownDirectory, ConnectionOptions options, bool shm)
    {
        try
        {
            UnixSocketPath.CheckLength(path);
            Socket socket = UnixBind.Create(path);
            FileIdentity bound = FileIdentity.Missing;
            try
            {
                if (!OperatingSystem.IsWindows())
                {
                    // What this listener made, so cleanup removes only that (see RemoveFiles).
                    bound = PosixFileKind.IdentityOf(path);

                    // The directory already keeps others out; the mode says so again.
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }

                socket.Listen(Backlog);
            }
            catch
            {
                socket.Dispose();
                if (bound.Kind == FileKind.Socket)
                {
                    RemoveIfStill(path, bound);
                }
                else if (OperatingSystem.IsWindows() && ownDirectory is not null)
                {
                    TryDelete(path);
                }

                throw;
            }

            var listener = new UnixSocketListener(socket, path, ownDirectory, bound, options, shm);
            ExitCleanup.Track(path, ownDirectory, bound);
            Log.Listening(listener.Description);
            return listener;
        }
        catch (Exception e)
        {
            if (ownDirectory is not null)
            {
                TryDeleteDirectory(ownDirectory);
            }

            throw e switch
            {
                IpcException ipc => ipc,
                SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } =>
                    new IpcException(IpcStatus.AddressInUse, $"unix socket path {path} is already in use", e),
                SocketException se => SocketErrors.ToIpc(se, $"binding unix socket {path}", path),
                _ => new IpcException(IpcStatus.Io, $"binding unix socket {path} failed: {e.Message}", e),
            };
        }
    }

    /// <summary>
    /// A caller-given path may hold the socket of a listener that died. Remove it only
    /// when it is a socket and connecting to it is refused; refuse anything else.
    /// Runs under the path's lock.
    /// </summary>
    private static void ClearStaleSocket(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            // No lstat here (the C shim that reads struct stat is POSIX's, not built for
            // Windows): what is at the path cannot be told apart, so nothing is replaced.
            if (File.Exists(path) || Directory.Exists(path))
            {
                throw new IpcException(IpcStatus.PathExists,
                    $"{path} exists; on Windows a unix socket path is never replaced, remove it first");
            }

            return;
        }

        FileIdentity found = PosixFileKind.IdentityOf(path);
        switch (found.Kind)
        {
            case FileKind.Missing:
                return;
            case FileKind.SymbolicLink:
                throw new IpcException(IpcStatus.PathExists,
                    $"{path} is a symbolic link; a unix socket path is never followed or replaced");
            case FileKind.Other:
                throw new IpcException(IpcStatus.PathExists,
                    $"{path} exists and is not a socket; it is left alone");
        }

        Socket probe;
        try
        {
            probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, $"probing the unix socket {path}", path);
        }

        using (probe)
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IpcException(IpcStatus.AddressInUse, $"a live listener is already using the unix socket {path}");
            }
            catch (SocketException)
            {
                // Refused: nobody listens there any more.
            }
        }

        if (RemoveIfStill(path, found))
        {
            Log.StaleSocketRemoved(path);
        }
    }

    /// <summary>Unlinks <paramref name="path"/> only while it is still the socket <paramref name="expected"/> names.</summary>
    private static bool RemoveIfStill(string path, FileIdentity expected)
    {
        FileIdentity now = PosixFileKind.IdentityOf(path);
        if (now.Kind != FileKind.Socket || !now.SameFileAs(expected))
        {
            return false;
        }

        TryDelete(path);
        return true;
    }

    /// <summary>
    /// Only a process of the same user may drive the adapter: the directory's mode keeps
    /// others out already, and the peer's credentials are checked again here, for a
    /// caller-given path in a shared directory.
    /// </summary>
    protected override ConnectionBase? OnAccepted(Socket client)
    {
        uint? peer = PeerCredentials.PeerUserId(client.SafeHandle.DangerousGetHandle());
        uint self = OperatingSystem.IsWindows() ? 0 : PeerCredentials.CurrentUserId;
        if (peer is uint uid && uid != self)
        {
            Log.PeerRefused(Description, uid, self);
            return null;
        }

        return _shm ? Shm.ShmConnection.Accepted(client, Options, Description) : SocketConnection.Create(client, Options, Description);
    }

    /// <summary>
    /// Removes the socket file only while it is still the socket this listener bound
    /// (same device and inode): a file put there since, or another listener's socket
    /// bound after ours was unlinked, is left alone. A caller-given path is checked and
    /// removed under its lock, so a listener being created there meanwhile is not hit.
    /// </summary>
    protected override void RemoveFiles()
    {
        ExitCleanup.Untrack(_path, _bound);
        if (OperatingSystem.IsWindows())
        {
            TryDelete(_path);
        }
        else if (_ownDirectory is not null)
        {
            RemoveOwn();
        }
        else
        {
            UnixPathLock? held = null;
            try
            {
                held = UnixPathLock.Acquire(_path);
            }
            catch (IpcException e)
            {
                Log.CleanupFailed($"lock {_path} for removal", e);
            }

            using (held)
            {
                RemoveOwn();
            }
        }

        if (_ownDirectory is not null)
        {
            TryDeleteDirectory(_ownDirectory);
        }
    }

    private void RemoveOwn()
    {
        if (!RemoveIfStill(_path, _bound) && PosixFileKind.Of(_path) != FileKind.Missing)
        {
            Log.SocketReplaced(_path);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CleanupFailed($"remove {path}", e);
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: false);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CleanupFailed($"remove {path}", e);
        }
    }
}
