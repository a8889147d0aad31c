namespace DapperIpc.Framing;

public static partial class FrameKind
{
    /// <summary>
    /// The library's own control frames (heartbeats; docs/protocol.md). Not in the header's
    /// dapper_ipc_kind: a host never sends one, and never receives one.
    /// </summary>
    public const byte Control = 3;
}
