namespace DapperIpc.Transports;

/// <summary>What every connection of a listener or connector is created with.</summary>
/// <param name="MaxPayload">Largest payload sent or accepted.</param>
/// <param name="SendTimeoutMs">How long a send waits for a peer that stopped reading; negative: no limit.</param>
/// <param name="AuthToken">Listener: the token each client must present first (null: none). Client: the token to present.</param>
public sealed record ConnectionOptions(uint MaxPayload, int SendTimeoutMs, string? AuthToken)
{
    /// <summary>shm listener: bytes of each ring it makes (a power of two).</summary>
    public uint ShmRingBytes { get; init; } = Shm.ShmLayout.DefaultRingBytes;

    /// <summary>shm: how long a reader or a writer waiting for room polls the ring before it sleeps; 0 or negative: not at all.</summary>
    public int ShmSpinUs { get; init; } = Shm.ShmLayout.DefaultSpinUs;

    public const string AuthTokenVariable = "DAPPER_IPC_AUTH_TOKEN";
}
