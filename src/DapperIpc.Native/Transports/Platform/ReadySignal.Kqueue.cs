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
internal sealed unsafe partial class KqueueReadySignal : ReadySignal
{
    private int _kqueue = -1;
    private int _flagRead = -1;
    private int _flagWrite = -1;
    private bool _signalled;

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_kqueue_signal", SetLastError = true)]
    private static partial int Make(int socket, int* fds);

    public KqueueReadySignal(nint socket)
    {
        int* fds = stackalloc int[3];
        LibC.Check(Make((int)socket, fds), "kqueue");
        _kqueue = fds[0];
        _flagRead = fds[1];
        _flagWrite = fds[2];
    }

    public override nint Handle => _kqueue;

    public override void Set(bool ready)
    {
        if (ready == _signalled || _kqueue < 0)
        {
            return;
        }

        byte one = 1;
        if (ready)
        {
            LibC.Write(_flagWrite, &one, 1);
        }
        else
        {
            LibC.Read(_flagRead, &one, 1);
        }

        _signalled = ready;
    }

    public override void Dispose()
    {
        Close(ref _kqueue);
        Close(ref _flagRead);
        Close(ref _flagWrite);
    }

    private static void Close(ref int fd)
    {
        if (fd >= 0)
        {
            LibC.Close(fd);
            fd = -1;
        }
    }
}
