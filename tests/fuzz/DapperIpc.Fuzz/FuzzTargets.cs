using System;
using System.Collections.Generic;
using DapperIpc.Fuzz.Targets;

namespace DapperIpc.Fuzz;

/// <summary>Each fuzz target by the name tests/fuzz/run.sh and the corpus folders use.</summary>
public static class FuzzTargets
{
    public delegate void Target(ReadOnlySpan<byte> input);

    public static readonly IReadOnlyDictionary<string, Target> All = new Dictionary<string, Target>(StringComparer.Ordinal)
    {
        ["frame-reader"] = FrameReaderTarget.Run,
        ["token-handshake"] = TokenHandshakeTarget.Run,
        ["native-config"] = NativeConfigTarget.Run,
        ["launcher-argv"] = LauncherArgvTarget.Run,
        ["session-hello"] = SessionHelloTarget.Run,
        ["ws-handshake"] = WsHandshakeTarget.Run,
        ["ws-frames"] = WsFramesTarget.Run,
        ["shm-ring"] = ShmRingTarget.Run,
    };
}
