using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The readable handle on Linux and macOS: a pollable fd (epoll, kqueue) watching the socket
/// and a flag fd that holds a token exactly while the library's buffer has a whole frame (or
/// the connection ended), so a host sees frames that one read brought in together, not only
/// bytes still in the kernel. Native/ready_signal.c makes the fds (an eventfd with an 8-byte
/// counter, or a pipe holding 1 byte), since epoll's and kqueue's structs are laid out per
/// platform. The token is written and taken only when that state flips, not per frame.
/// </summary>
internal sealed unsafe partial class PosixReadySignal : ReadySignal
{
    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_ready_signal", SetLastError = true)]
    private static partial int Make(int socket, int* fds);

    private readonly nuint _tokenSize;
    private int _poller = -1;
    private int _flagRead = -1;
    private int _flagWrite = -1;
    private bool _signalled;

    public PosixReadySignal(nint socket)
    {
        int* fds = stackalloc int[3];
        int tokenSize = Make((int)socket, fds);
        LibC.Check(tokenSize, "the readable handle (epoll or kqueue)");
        _tokenSize = (nuint)tokenSize;
        _poller = fds[0];
        _flagRead = fds[1];
        _flagWrite = fds[2];
    }

    /// <summary>The fd to hand to the host.</summary>
    public override nint Handle => _poller;

    /// <summary>Makes the handle readable (a frame is buffered, or recv has a final status) or not.</summary>
    public override void Set(bool ready)
    {
        if (ready == _signalled || _poller < 0)
        {
            return;
        }

        ulong token = 1;
        if (ready)
        {
            LibC.Write(_flagWrite, &token, _tokenSize);
        }
        else
        {
            LibC.Read(_flagRead, &token, _tokenSize); // an eventfd's counter goes back to 0
        }

        _signalled = ready;
    }

    public override void Dispose()
    {
        if (_flagWrite != _flagRead)
        {
            Close(ref _flagWrite);
        }

        _flagWrite = -1;
        Close(ref _flagRead);
        Close(ref _poller);
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
