using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The pull mode's readable handle on Linux: an epoll file descriptor watching two things,
/// the socket (data or end-of-file the library has not read yet) and an eventfd the library
/// keeps signalled exactly while its read buffer holds a whole frame (or the connection has
/// ended and recv has a status to return). The epoll fd is readable when either is, so a
/// host's poll/epoll/libuv sees frames that one read brought in together, not only bytes
/// still in the kernel. <see cref="PosixReadySignal"/> sets and clears the eventfd.
/// </summary>
internal sealed unsafe partial class LinuxReadySignal : PosixReadySignal
{
    private const int EPOLL_CLOEXEC = 0x80000;
    private const int EFD_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;
    private const int EPOLL_CTL_ADD = 1;
    private const uint EPOLLIN = 1;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    // struct epoll_event is packed on x86-64 (12 bytes) and not on arm64 (16): a zeroed
    // 16-byte buffer with the events first is right for both (data stays 0).
    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epfd, int op, int fd, void* ev);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initval, int flags);

    public LinuxReadySignal(nint socket) : base(sizeof(ulong))
    {
        try
        {
            Poller = EpollCreate1(EPOLL_CLOEXEC);
            LibC.Check(Poller, "epoll_create1");
            FlagRead = FlagWrite = EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            LibC.Check(FlagRead, "eventfd");
            Add((int)socket);
            Add(FlagRead);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private void Add(int fd)
    {
        byte* ev = stackalloc byte[16];
        new Span<byte>(ev, 16).Clear();
        *(uint*)ev = EPOLLIN;
        LibC.Check(EpollCtl(Poller, EPOLL_CTL_ADD, fd, ev), "epoll_ctl");
    }
}
