namespace DapperIpc.Factory;

public enum TransportKind
{
    Unix,
    Tcp,
    Pipe,
    Ws,
    Tls,
    Wss,

    /// <summary>The process's own stdin and stdout (connect only).</summary>
    Stdio,

    /// <summary>A transport the host registered (dapper_ipc_register_transport).</summary>
    Plugin,

    /// <summary>Shared memory between two ends of this library, reached through a unix socket (Linux).</summary>
    Shm,
}
