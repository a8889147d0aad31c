using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The pull mode's readable handle on macOS: the Linux design (<see cref="LinuxReadySignal"/>)
/// with a kqueue for the epoll fd and a pipe for the eventfd. The kqueue watches the socket
/// and the pipe's read end (EVFILT_READ); the pipe holds one byte exactly while the library's
/// buffer has a whole frame (or the connection ended). A kqueue fd is itself readable to
/// poll, select or another kqueue while any event is pending. Native/ready_kqueue.c builds
/// it (struct kevent differs between the BSDs).
/// </summary>
internal sealed unsafe partial class KqueueReadySignal : PosixReadySignal
{
    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_kqueue_signal", SetLastError = true)]
    private static partial int Make(int socket, int* fds);

    public KqueueReadySignal(nint socket) : base(1)
    {
        int* fds = stackalloc int[3];
        LibC.Check(Make((int)socket, fds), "kqueue");
        Poller = fds[0];
        FlagRead = fds[1];
        FlagWrite = fds[2];
    }
}
