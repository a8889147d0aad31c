using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// Hands unix socket paths to Native/exit_cleanup.c, which removes them if the host
/// exits without cleanup. Only in the AOT library (the C part is linked into it).
/// </summary>
internal static partial class ExitCleanup
{
    private static bool Available => !RuntimeFeature.IsDynamicCodeSupported && !OperatingSystem.IsWindows();

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_track_socket", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int TrackNative(string socketPath, string? directory);

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_untrack_socket", StringMarshalling = StringMarshalling.Utf8)]
    private static partial void UntrackNative(string socketPath);

    public static void Track(string socketPath, string? directory)
    {
        if (Available)
        {
            _ = TrackNative(socketPath, directory);
        }
    }

    public static void Untrack(string socketPath)
    {
        if (Available)
        {
            UntrackNative(socketPath);
        }
    }
}
