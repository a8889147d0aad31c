using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Shm;

/// <summary>The system calls of the shm transport, done by Native/shm.c (Linux; elsewhere they fail with ENOSYS). Results: &gt;= 0, or -errno.</summary>
internal static unsafe partial class ShmNative
{
    private const string Library = "dapper_ipc_shim";

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_create")]
    public static partial int Create(ulong size, void** mapping);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_map")]
    public static partial int Map(int fd, ulong size, void** mapping);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_size")]
    public static partial long Size(int fd);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_unmap")]
    public static partial void Unmap(void* mapping, ulong size);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_send_fd")]
    public static partial int SendFd(int socket, int fd, void* data, int length);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_recv_fd")]
    public static partial int ReceiveFd(int socket, void* data, int length, int timeoutMs, int* fd);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_futex_wait")]
    public static partial int FutexWait(uint* word, uint expected, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_futex_wake")]
    [SuppressGCTransition] // a leaf system call that never blocks
    public static partial void FutexWake(uint* word);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_ring_doorbell")]
    public static partial void Doorbell(int socket);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_drain")]
    public static partial int Drain(int socket, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_wait_readable")]
    public static partial int WaitReadable(int socket, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_hung_up")]
    [SuppressGCTransition]
    public static partial int HungUp(int socket);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_sched_yield")]
    [SuppressGCTransition]
    public static partial void Yield();

    /// <summary>The CPU the calling thread runs on (-1 when unknown): a vDSO call, no system call.</summary>
    [LibraryImport("libc", EntryPoint = "sched_getcpu")]
    [SuppressGCTransition]
    public static partial int CurrentCpu();

    [LibraryImport(Library, EntryPoint = "dapper_ipc_shm_allowed_cpus")]
    public static partial int AllowedCpus();

    /// <summary>The OS's text for a -errno result.</summary>
    public static string Describe(int result) => Platform.LibC.Describe(-result);
}
