namespace DapperIpc.Transports.Platform;

/// <summary>
/// The POSIX shape of the readable handle: a pollable fd (epoll, kqueue) watching the socket
/// and a flag fd that holds a token exactly while the library's buffer has a whole frame (or
/// the connection ended). The token is written and taken only when that state flips, not per
/// frame. The subclass makes the fds: an eventfd (one fd, 8-byte counter) or a pipe (1 byte).
/// </summary>
internal abstract unsafe class PosixReadySignal(nuint tokenSize) : ReadySignal
{
    protected int Poller = -1;
    protected int FlagRead = -1;
    protected int FlagWrite = -1;
    private bool _signalled;

    /// <summary>The fd to hand to the host.</summary>
    public override nint Handle => Poller;

    /// <summary>Makes the handle readable (a frame is buffered, or recv has a final status) or not.</summary>
    public override void Set(bool ready)
    {
        if (ready == _signalled || Poller < 0)
        {
            return;
        }

        ulong token = 1;
        if (ready)
        {
            LibC.Write(FlagWrite, &token, tokenSize);
        }
        else
        {
            LibC.Read(FlagRead, &token, tokenSize); // an eventfd's counter goes back to 0
        }

        _signalled = ready;
    }

    public override void Dispose()
    {
        if (FlagWrite != FlagRead)
        {
            Close(ref FlagWrite);
        }

        FlagWrite = -1;
        Close(ref FlagRead);
        Close(ref Poller);
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
