using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Tls;

/// <summary>
/// The calls of Native/tls.c (OpenSSL, loaded by Native/tls_load.c on first use). Plain
/// pointers cross: a context and a session are opaque to managed code. Reads and writes
/// return the shim's <see cref="Platform.ErrnoClass"/> on failure, as the socket calls do.
/// </summary>
internal static unsafe partial class TlsShim
{
    private const string Library = "dapper_ipc_shim";
    public const int ErrorCapacity = 512;

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_available")]
    public static partial int Available(byte* error, nuint cap);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_server_new")]
    public static partial nint ServerNew(byte* certFile, byte* keyFile, int allowTls12, byte* ownFingerprint, byte* error, nuint cap);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_client_new")]
    public static partial nint ClientNew(byte* pin, int allowTls12, byte* error, nuint cap);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_ctx_free")]
    public static partial void ContextFree(nint context);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_new")]
    public static partial nint SessionNew(nint context, int fd, byte* host, byte* error, nuint cap);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_free")]
    public static partial void SessionFree(nint session);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_error")]
    public static partial byte* Error(nint session);

    /// <summary>0 done, 1 wants to read, 2 wants to write, -1 failed, -2 not the pinned certificate.</summary>
    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_handshake", SetLastError = true)]
    public static partial int Handshake(nint session);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_version")]
    public static partial byte* Version(nint session);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_read", SetLastError = true)]
    public static partial nint Read(nint session, byte* buffer, nuint length, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_writev", SetLastError = true)]
    public static partial nint WriteV(nint session, Platform.SocketShim.IoVec* iov, int count, int timeoutMs, long* sent, int* cut);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_pending")]
    public static partial int Pending(nint session);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_close_notify")]
    public static partial void CloseNotify(nint session);

    [LibraryImport(Library, EntryPoint = "dapper_ipc_tls_format_fingerprint")]
    public static partial void FormatFingerprint(byte* fingerprint, byte* text);

    public static string Text(byte* s) => Marshal.PtrToStringUTF8((nint)s) ?? "";
}
