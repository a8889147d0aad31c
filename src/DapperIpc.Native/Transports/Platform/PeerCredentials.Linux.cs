using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

internal static unsafe partial class LinuxPeerCredentials
{
    private const int SOL_SOCKET = 1;
    private const int SO_PEERCRED = 17;

    [StructLayout(LayoutKind.Sequential)]
    private struct UCred
    {
        public int Pid;
        public uint Uid;
        public uint Gid;
    }

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSockOpt(nint fd, int level, int name, void* value, uint* length);

    public static uint PeerUserId(nint handle)
    {
        UCred cred;
        uint length = (uint)sizeof(UCred);
        if (GetSockOpt(handle, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0)
        {
            throw PeerCredentials.Error("getsockopt(SO_PEERCRED)");
        }

        return cred.Uid;
    }
}
