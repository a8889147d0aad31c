using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// What a failed call of Native/socket_io.c was, as a small negative number. The values
/// are defined in that C file, which owns the platform's errno numbers; this is its copy,
/// which a managed test holds to it.
/// </summary>
internal enum ErrnoClass
{
    None = 0,
    Other = -1,
    WouldBlock = -2,
    PeerGone = -3,
    Interrupted = -4,
    NoDescriptors = -5,
    AddressInUse = -6,
    TimedOut = -7,
    NotPermitted = -8,
}

/// <summary>
/// The socket calls whose correctness depends on a C layout or a platform constant, done
/// by Native/socket_io.c: plain ints and pointers cross, nothing platform-shaped. Linked
/// into the AOT library; in a JIT build the same C is libdapper_ipc_shim.so next to the
/// assembly (see the csproj). Failures return an <see cref="ErrnoClass"/> and leave errno
/// for <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
internal static unsafe partial class SocketShim
{
    private const string Library = "dapper_ipc_shim";

    /// <summary>The shim's { base, length } pair; socket_io.c asserts it is laid out as struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;

        /// <summary>
        /// Resumes after a partial write of <paramref name="written"/> bytes: the entries it
        /// covered are passed (<paramref name="first"/> moves on) and the next is cut at its
        /// front. Inlined: it runs on the frame path after every short write.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Consume(IoVec* iov, int count, ref int first, nuint written)
        {
            while (first < count && written >= iov[first].Length)
            {
                written -= iov[first].Length;
                first++;
            }

            if (first < count)
            {
                iov[first].Base = (byte*)iov[first].Base + written;
                iov[first].Length -= written;
            }
        }
    }

    [LibraryImport(Library, EntryPoint = "dapper_ipc_errno_class")]
    private static partial int ErrnoClassOf(int error);

    /// <summary>The class of a raw errno value (as the shim's bind and lock calls return them).</summary>
    public static ErrnoClass Classify(int errno) => (ErrnoClass)ErrnoClassOf(errno);

    /// <summary>Once per connected socket: SO_NOSIGPIPE where there is no MSG_NOSIGNAL. 0 or a class.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_socket_configure", SetLastError = true)]
    public static partial int Configure(int fd);

    /// <summary>One gathered write without SIGPIPE: bytes written, or a class with errno in *error (Interrupted on EINTR: the caller retries, with what is left of its deadline).</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_sendv")]
    public static partial nint SendV(int fd, IoVec* iov, int count, int* error);

    /// <summary>
    /// As <see cref="SendV"/> without waiting: WouldBlock when there is no room at all. No GC
    /// transition: it cannot block, and at worst copies one socket buffer's worth (a GC
    /// waits that long for this thread), which costs less than the transition on every send.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_sendv_nowait")]
    [System.Runtime.InteropServices.SuppressGCTransition]
    public static partial nint SendVNoWait(int fd, IoVec* iov, int count, int* error);

    /// <summary>Milliseconds of a cheap monotonic clock (Native/stamp.c); a leaf call that cannot block, so no GC transition.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_coarse_ms")]
    [System.Runtime.InteropServices.SuppressGCTransition]
    public static partial long CoarseMs();

    /// <summary>The frame path's timestamp in the clock's own unit (Native/stamp.c; StampClock converts); no GC transition.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_stamp")]
    [System.Runtime.InteropServices.SuppressGCTransition]
    public static partial long Stamp();

    /// <summary>Clears O_NONBLOCK on the descriptor (after a handshake read without blocking): 0 or a class.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_socket_set_blocking", SetLastError = true)]
    public static partial int SetBlocking(int fd);

    /// <summary>One buffer through <see cref="SendVNoWait"/>.</summary>
    public static nint SendNoWait(int fd, byte* buffer, nuint length)
    {
        IoVec iov = new() { Base = buffer, Length = length };
        int error;
        return SendVNoWait(fd, &iov, 1, &error);
    }

    /// <summary>Blocking recv, EINTR retried: bytes (0 at end of stream), or a class with errno in *error; a read with data writes <see cref="Stamp"/>'s value to *stamp.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_sock_recv")]
    public static partial nint Recv(int fd, byte* buffer, nuint length, long* stamp, int* error);

    /// <summary>recv waiting at most timeoutMs (&gt;= 0): the count, or a class (WouldBlock: nothing in time).</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_sock_recv_wait", SetLastError = true)]
    public static partial nint RecvWait(int fd, byte* buffer, nuint length, int timeoutMs);

    /// <summary>Sends a held-back ACK now (Linux tcp); best effort.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_flush_delayed_ack")]
    public static partial void FlushDelayedAck(int fd);

    /// <summary>Bytes of data written that the peer has not acknowledged yet, a FIN already sent not counted (Linux SIOCOUTQ, macOS SO_NWRITE; 0 once the connection is gone); -1 where the OS cannot tell.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_sock_unacked")]
    public static partial long Unacked(int fd);

    /// <summary>Drops the input that is there now, without waiting: 0 when nothing more is there, 1 at end of stream, -1 on an error (a reset).</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_sock_discard")]
    public static partial int Discard(int fd);

    /// <summary>SO_PEERCRED (Linux) or getpeereid (macOS, BSDs): 0 with the peer's uid, or a class.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_peer_uid", SetLastError = true)]
    public static partial int PeerUid(int fd, uint* uid);

    /// <summary>SO_PEERCRED (Linux) or LOCAL_PEERPID (macOS): 0 with the peer's pid, or a class (Other where there is no such call).</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_peer_pid", SetLastError = true)]
    public static partial int PeerPid(int fd, int* pid);
}
