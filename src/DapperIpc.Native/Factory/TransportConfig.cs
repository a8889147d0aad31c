using DapperIpc.Framing;

namespace DapperIpc.Factory;

/// <summary>
/// Transport settings (docs/architecture.md's TransportConfig) plus the library's own:
/// the frame size limit and the connect timeout.
/// </summary>
public sealed class TransportConfig
{
    /// <summary>The launcher retries for about 3 s (60 x 50 ms); a client of ours waits as long.</summary>
    public const int DefaultConnectTimeoutMs = 3000;

    /// <summary>"auto", "unix", "tcp", "pipe", "ws", "tls", "wss", "shm", "stdio" or the name of a registered transport, case-insensitive; null means auto.</summary>
    public string? Transport { get; set; } = "auto";

    /// <summary>tcp host; null means 127.0.0.1. A non-loopback bind logs a security warning.</summary>
    public string? Host { get; set; }

    /// <summary>tcp port; 0 for a listener means an ephemeral port chosen by the OS.</summary>
    public int Port { get; set; }

    /// <summary>unix socket path; null for a listener means a fresh private directory under the temp directory.</summary>
    public string? Path { get; set; }

    /// <summary>Windows pipe name.</summary>
    public string? PipeName { get; set; }

    /// <summary>Largest payload sent or accepted. Defaults to 64 MiB.</summary>
    public uint MaxFrameSize { get; set; } = FrameHeader.DefaultMaxPayload;

    /// <summary>How long connect keeps retrying while nobody listens; negative: one attempt.</summary>
    public int ConnectTimeoutMs { get; set; } = DefaultConnectTimeoutMs;

    /// <summary>A send waits this long for a peer that stopped reading; negative: no limit.</summary>
    public int SendTimeoutMs { get; set; } = DefaultSendTimeoutMs;

    public const int DefaultSendTimeoutMs = 30_000;

    /// <summary>
    /// Listener: how long a send (or a batch) made before the client arrived waits for it,
    /// then sends; negative: no wait (NotConnected at once). Commands sent right after the
    /// launcher was started must not be lost because it has not connected yet.
    /// </summary>
    public int ClientWaitMs { get; set; } = DefaultClientWaitMs;

    public const int DefaultClientWaitMs = 10_000;

    /// <summary>Listener: require each client's first frame to carry a random token. Off by default (the existing launcher knows nothing of it).</summary>
    public bool RequireAuth { get; set; }

    /// <summary>Client: the token to present; null falls back to the DAPPER_IPC_AUTH_TOKEN environment variable.</summary>
    public string? AuthToken { get; set; }

    /// <summary>Heartbeat period in ms between two ends of this library that both set it; 0 or negative: off.</summary>
    public int HeartbeatMs { get; set; }

    /// <summary>ws listener: origins allowed besides loopback and the listener's host, comma-separated (e.g. "https://ide.example.com"); null: none.</summary>
    public string? WsOrigins { get; set; }

    /// <summary>DAPPER_IPC_FLAG_RECONNECT: survive drops, resuming with nothing lost or duplicated when the peer set it too.</summary>
    public bool Reconnect { get; set; }

    /// <summary>How long to reconnect (or wait for the client's return) after a drop; negative: no limit.</summary>
    public int ReconnectTimeoutMs { get; set; } = DefaultReconnectTimeoutMs;

    public const int DefaultReconnectTimeoutMs = 30_000;

    /// <summary>The most bytes of sent, unacknowledged frames kept for a resume.</summary>
    public uint ResumeBufferBytes { get; set; } = DefaultResumeBufferBytes;

    public const uint DefaultResumeBufferBytes = 4 << 20;

    /// <summary>shm listener: bytes of each of the two rings (a power of two, 4 KiB to 1 GiB).</summary>
    public uint ShmRingBytes { get; set; } = Transports.Shm.ShmLayout.DefaultRingBytes;

    /// <summary>shm: microseconds a reader (or a writer waiting for room) polls the ring before sleeping on a futex; negative: none.</summary>
    public int ShmSpinUs { get; set; } = Transports.Shm.ShmLayout.DefaultSpinUs;

    /// <summary>tls/wss listener: PEM certificate (chain) and key files; null: a fresh self-signed certificate.</summary>
    public string? TlsCertFile { get; set; }

    public string? TlsKeyFile { get; set; }

    /// <summary>tls/wss client: the pinned "sha256:&lt;64 hex&gt;" of the listener's certificate; null: the trust store and host name decide.</summary>
    public string? TlsFingerprint { get; set; }

    /// <summary>DAPPER_IPC_FLAG_ALLOW_TLS12: TLS 1.2 as well as 1.3.</summary>
    public bool AllowTls12 { get; set; }

    internal TransportConfig Copy() => (TransportConfig)MemberwiseClone();

    internal void Validate()
    {
        // The reader indexes its buffer with int: keep header + payload below 2 GiB.
        if (MaxFrameSize == 0 || MaxFrameSize > int.MaxValue - FrameHeader.Size)
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"max_frame_size must be between 1 and {int.MaxValue - FrameHeader.Size} bytes (got {MaxFrameSize})");
        }

        if (Host is not null && string.IsNullOrWhiteSpace(Host))
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                "host is empty: give an address or a name, or leave it NULL for 127.0.0.1");
        }

        if (!Transports.Shm.ShmLayout.ValidRingBytes(ShmRingBytes))
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"shm_ring_bytes must be a power of two from {Transports.Shm.ShmLayout.MinRingBytes} to {Transports.Shm.ShmLayout.MaxRingBytes} (got {ShmRingBytes})");
        }

        if (Reconnect && Transport is not null && Transport.Trim().Equals("shm", System.StringComparison.OrdinalIgnoreCase))
        {
            throw new IpcException(IpcStatus.Unsupported,
                "DAPPER_IPC_FLAG_RECONNECT is not supported over shm (a peer that leaves takes its shared memory with it); use unix");
        }

        if (Port is < 0 or > 65535)
        {
            throw new IpcException(IpcStatus.InvalidArgument, $"port must be between 0 and 65535 (got {Port})");
        }
    }
}
