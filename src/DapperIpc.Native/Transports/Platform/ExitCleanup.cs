using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// Hands unix socket paths to Native/exit_cleanup.c, which removes them if the host
/// exits without cleanup (linked into the AOT library; libdapper_ipc_shim in a JIT build).
/// </summary>
internal static partial class ExitCleanup
{
    private static bool Available => !OperatingSystem.IsWindows();

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_track_socket", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int TrackNative(string socketPath, string? directory, ulong dev, ulong ino);

    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_untrack_socket", StringMarshalling = StringMarshalling.Utf8)]
    private static partial void UntrackNative(string socketPath, ulong dev, ulong ino);

    /// <summary>Registers what the listener bound: at exit the path is removed only while it is still that socket.</summary>
    public static void Track(string socketPath, string? directory, FileIdentity bound)
    {
        if (Available && bound.Kind == FileKind.Socket)
        {
            _ = TrackNative(socketPath, directory, bound.Device, bound.Inode);
        }
    }

    public static void Untrack(string socketPath, FileIdentity bound)
    {
        if (Available && bound.Kind == FileKind.Socket)
        {
            UntrackNative(socketPath, bound.Device, bound.Inode);
        }
    }
}
