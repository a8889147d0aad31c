using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>macOS and the BSDs: a different msghdr layout, and no MSG_NOSIGNAL (SO_NOSIGPIPE per socket instead).</summary>
internal sealed unsafe class BsdSocketIO : PosixSocketIO
{
    private const int SOL_SOCKET = 0xffff;
    private const int SO_NOSIGPIPE = 0x1022;
    private const int ECONNRESET = 54;
    private const int ENOTCONN = 57;
    private const int ESHUTDOWN = 58;

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public LibC.IoVec* Iov;
        public int IovLength;
        public void* Control;
        public uint ControlLength;
        public int Flags;
    }

    protected override int DontWait => 0x80;

    public override void Configure(Socket socket, int sendTimeoutMs)
    {
        base.Configure(socket, sendTimeoutMs);
        int one = 1;
        LibC.SetSockOpt(socket.SafeHandle.DangerousGetHandle(), SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(int));
    }

    protected override nint SendMsg(nint handle, LibC.IoVec* iov, int count)
    {
        MsgHdr msg = default;
        msg.Iov = iov;
        msg.IovLength = count;
        return LibC.SendMsg(handle, &msg, 0);
    }

    protected override bool IsPeerGone(int errno)
        => errno is LibC.EPIPE or ECONNRESET or ENOTCONN or ESHUTDOWN;

    protected override bool IsTimeout(int errno) => errno == 35; // EAGAIN == EWOULDBLOCK
}
