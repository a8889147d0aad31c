using System;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The pull mode's readable handle: an OS object a host's event loop waits on, ready while
/// the socket holds bytes the library has not read, or while the library says so
/// (<see cref="Set"/>: a whole frame is in its buffer, or the connection ended). Each
/// platform watches the socket its own way: <see cref="PosixReadySignal"/> (epoll on Linux,
/// kqueue on macOS, both built in Native/ready_signal.c), <see cref="WindowsReadySignal"/>
/// (an event set by a zero-byte overlapped read).
/// </summary>
internal abstract class ReadySignal : IDisposable
{
    /// <summary>What the host gets: a file descriptor on POSIX, an event HANDLE on Windows.</summary>
    public abstract nint Handle { get; }

    /// <summary>
    /// Called after every recv (and once at the start) with the library's own state: ready
    /// when a frame is buffered or recv has a final status. Not ready re-arms the watch of
    /// the socket where the platform needs it (Windows).
    /// </summary>
    public abstract void Set(bool ready);

    public abstract void Dispose();

    /// <summary>The signal for this platform and connection; null where there is none (Windows pipes, registered transports, the BSDs).</summary>
    public static ReadySignal? Create(ConnectionBase connection)
    {
        // Any descriptor poll can watch: a socket, or an adopted pipe's read end.
        if ((OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && connection.PollHandle >= 0)
        {
            return new PosixReadySignal(connection.PollHandle);
        }

        if (OperatingSystem.IsWindows() && connection is SocketConnection socket)
        {
            return new WindowsReadySignal(socket.SocketHandle);
        }

        return null;
    }

    /// <summary>
    /// A signal that watches no socket, only what <see cref="Set"/> says: it outlives the
    /// connections of a session that reconnects. Null where there is none (Windows).
    /// </summary>
    public static ReadySignal? CreateStandalone()
        => OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() ? new PosixReadySignal(-1) : null;
}
