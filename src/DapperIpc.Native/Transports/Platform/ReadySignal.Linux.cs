using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The pull mode's readable handle on Linux: an epoll file descriptor watching two things,
/// the socket (data or end-of-file the library has not read yet) and an eventfd the library
/// keeps signalled exactly while its read buffer holds a whole frame (or the connection has
/// ended and recv has a status to return). The epoll fd is readable when either is, so a
/// host's poll/epoll/libuv sees frames that one read brought in together, not only bytes
/// still in the kernel. The eventfd is written and read only when that state flips, not
/// per frame.
/// </summary>
internal sealed unsafe partial class LinuxReadySignal : ReadySignal
{
    private const int EPOLL_CLOEXEC = 0x80000;
    private const int EFD_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;
    private const int EPOLL_CTL_ADD = 1;
    private const uint EPOLLIN = 1;

    private int _epoll = -1;
    private int _event = -1;
    private bool _signalled;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    // struct epoll_event is packed on x86-64 (12 bytes) and not on arm64 (16): a zeroed
    // 16-byte buffer with the events first is right for both (data stays 0).
    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, void* ev);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initval, int flags);

    public LinuxReadySignal(nint socket)
    {
        try
        {
            _epoll = EpollCreate1(EPOLL_CLOEXEC);
            Check(_epoll, "epoll_create1");
            _event = EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            Check(_event, "eventfd");
            Add((int)socket);
            Add(_event);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The fd to hand to the host.</summary>
    public override nint Handle => _epoll;

    /// <summary>Makes the handle readable (a frame is buffered, or recv has a final status) or not.</summary>
    public override void Set(bool ready)
    {
        if (ready == _signalled || _event < 0)
        {
            return;
        }

        ulong value = 1;
        if (ready)
        {
            LibC.Write(_event, &value, sizeof(ulong));
        }
        else
        {
            LibC.Read(_event, &value, sizeof(ulong)); // resets the counter to 0
        }

        _signalled = ready;
    }

    private void Add(int fd)
    {
        byte* ev = stackalloc byte[16];
        new Span<byte>(ev, 16).Clear();
        *(uint*)ev = EPOLLIN;
        Check(EpollCtl(_epoll, EPOLL_CTL_ADD, fd, ev), "epoll_ctl");
    }

    private static void Check(int result, string call) => LibC.Check(result, call);

    public override void Dispose()
    {
        if (_epoll >= 0)
        {
            LibC.Close(_epoll);
            _epoll = -1;
        }

        if (_event >= 0)
        {
            LibC.Close(_event);
            _event = -1;
        }
    }
}
