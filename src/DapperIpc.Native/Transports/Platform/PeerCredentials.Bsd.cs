using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>macOS and the BSDs. Only those platforms exercise this file.</summary>
internal static unsafe partial class BsdPeerCredentials
{
    [LibraryImport("libc", EntryPoint = "getpeereid", SetLastError = true)]
    private static partial int GetPeerEid(nint fd, uint* uid, uint* gid);

    public static uint PeerUserId(nint handle)
    {
        uint uid, gid;
        if (GetPeerEid(handle, &uid, &gid) != 0)
        {
            throw PeerCredentials.Error("getpeereid");
        }

        return uid;
    }
}
