namespace DapperIpc.Framing;

/// <summary>DP v1 frame kinds (docs/protocol.md).</summary>
public static class FrameKind
{
    /// <summary>Launcher to adapter (events, and the launcher's replies).</summary>
    public const byte Event = 1;

    /// <summary>Adapter to launcher.</summary>
    public const byte Command = 2;

    public static bool IsDefined(int kind) => kind is Event or Command;
}
