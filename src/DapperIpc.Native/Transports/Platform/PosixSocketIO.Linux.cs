using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

internal sealed unsafe class LinuxSocketIO : PosixSocketIO
{
    // Per call, so a send to a departed peer returns EPIPE instead of raising SIGPIPE,
    // without touching the host's signal dispositions.
    private const int MSG_NOSIGNAL = 0x4000;
    private const int ECONNRESET = 104;
    private const int ENOTCONN = 107;
    private const int ESHUTDOWN = 108;

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public LibC.IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    private const int IPPROTO_TCP = 6;
    private const int TCP_QUICKACK = 12;

    public override bool FlushesDelayedAcks => true;

    protected override int DontWait => 0x40;

    public override void FlushDelayedAck(nint handle)
    {
        // 2 (even): leave pingpong mode long enough to send a scheduled ACK now, then enter
        // it again (tcp.c, __tcp_sock_set_quickack), so later ACKs still ride on our frames.
        // 1 would make every segment that follows acknowledged at once: a pure ACK per
        // frame, measured at +15 us per loopback round trip.
        int two = 2;
        LibC.SetSockOpt(handle, IPPROTO_TCP, TCP_QUICKACK, &two, sizeof(int));
    }

    protected override nint SendMsg(nint handle, LibC.IoVec* iov, int count)
    {
        MsgHdr msg = default;
        msg.Iov = iov;
        msg.IovLength = (nuint)count;
        return LibC.SendMsg(handle, &msg, MSG_NOSIGNAL);
    }

    protected override bool IsPeerGone(int errno)
        => errno is LibC.EPIPE or ECONNRESET or ENOTCONN or ESHUTDOWN;

    protected override bool IsTimeout(int errno) => errno == 11; // EAGAIN == EWOULDBLOCK
}
