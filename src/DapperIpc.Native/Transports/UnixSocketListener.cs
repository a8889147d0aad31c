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

    private UnixSocketListener(Socket socket, string path, string? ownDirectory, ConnectionOptions options)
        : base(socket, options)
    {
        _path = path;
        _ownDirectory = ownDirectory;
        LauncherArgs = ["--ipc", "unix", "--ipc-path", path];
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description => "unix:" + _path;

    public string SocketPath => _path;

    /// <summary>
    /// Binds and listens. Throws IpcException: PathTooLong, PathExists or AddressInUse
    /// for a caller-given path that cannot be used (no fallback: the caller asked for
    /// it), Io or Unsupported when unix sockets cannot be set up here.
    /// </summary>
    public static UnixSocketListener Create(string? path, ConnectionOptions options)
    {
        if (!Socket.OSSupportsUnixDomainSockets)
        {
            throw new IpcException(IpcStatus.Unsupported, "unix domain sockets are not supported on this system");
        }

        string? ownDirectory = null;
        if (path is null)
        {
            ownDirectory = UnixSocketPath.CreatePrivateDirectory();
            path = Path.Combine(ownDirectory, UnixSocketPath.SocketFileName);
        }
        else
        {
            path = Path.GetFullPath(path);
            UnixSocketPath.CheckLength(path);
            ClearStaleSocket(path);
        }

        try
        {
            UnixSocketPath.CheckLength(path);
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Bind(new UnixDomainSocketEndPoint(path));
                if (!OperatingSystem.IsWindows())
                {
                    // The directory already keeps others out; the mode says so again.
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }

                socket.Listen(Backlog);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            var listener = new UnixSocketListener(socket, path, ownDirectory, options);
            ExitCleanup.Track(path, ownDirectory);
            Log.Listening(listener.Description);
            return listener;
        }
        catch (Exception e)
        {
            if (ownDirectory is not null)
            {
                TryDelete(Path.Combine(ownDirectory, UnixSocketPath.SocketFileName));
                TryDeleteDirectory(ownDirectory);
            }

            throw e switch
            {
                IpcException ipc => ipc,
                SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } =>
                    new IpcException(IpcStatus.AddressInUse, $"unix socket path {path} is already in use", e),
                SocketException se => SocketErrors.ToIpc(se, $"binding unix socket {path}"),
                _ => new IpcException(IpcStatus.Io, $"binding unix socket {path} failed: {e.Message}", e),
            };
        }
    }

    /// <summary>
    /// A caller-given path may hold the socket of a listener that died. Remove it only
    /// when it is a socket and connecting to it is refused; refuse anything else.
    /// </summary>
    private static void ClearStaleSocket(string path)
    {
        switch (PosixFileKind.Of(path))
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

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
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

        File.Delete(path);
        Log.StaleSocketRemoved(path);
    }

    /// <summary>
    /// Only a process of the same user may drive the adapter: the directory's mode keeps
    /// others out already, and the peer's credentials are checked again here, for a
    /// caller-given path in a shared directory.
    /// </summary>
    protected override SocketConnection? OnAccepted(Socket client)
    {
        uint? peer = PeerCredentials.PeerUserId(client.SafeHandle.DangerousGetHandle());
        uint self = OperatingSystem.IsWindows() ? 0 : PeerCredentials.CurrentUserId;
        if (peer is uint uid && uid != self)
        {
            Log.PeerRefused(Description, uid, self);
            return null;
        }

        return new SocketConnection(client, Options, Description);
    }

    protected override void RemoveFiles()
    {
        ExitCleanup.Untrack(_path);
        TryDelete(_path);
        if (_ownDirectory is not null)
        {
            TryDeleteDirectory(_ownDirectory);
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
