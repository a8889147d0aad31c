using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The user id of the process at the other end of a unix socket, read with the
/// platform's own call in Native/socket_io.c: SO_PEERCRED on Linux, getpeereid on
/// macOS and the BSDs.
/// </summary>
internal static unsafe partial class PeerCredentials
{
    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    public static uint CurrentUserId => GetEffectiveUserId();

    /// <summary>The peer's effective uid, or null when the platform cannot tell (Windows AF_UNIX).</summary>
    public static uint? PeerUserId(nint handle)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        uint uid;
        if (SocketShim.PeerUid((int)handle, &uid) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string call = OperatingSystem.IsLinux() ? "getsockopt(SO_PEERCRED)" : "getpeereid";
            throw new IpcException(IpcStatus.Io, $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        return uid;
    }

    /// <summary>The peer's pid, for the logs; null where the platform cannot tell (Windows, the BSDs) or the call fails.</summary>
    public static int? PeerPid(nint handle)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        int pid;
        return SocketShim.PeerPid((int)handle, &pid) == 0 ? pid : null;
    }
}
