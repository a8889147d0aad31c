using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>POSIX calls shared by Linux and the BSDs (macOS). Bound at link time in the AOT build (DirectPInvoke).</summary>
internal static unsafe partial class LibC
{
    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(nint fd, byte* buffer, nuint length, int flags);

    /// <summary>msghdr's layout differs between Linux and the BSDs: callers pass their own.</summary>
    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(nint fd, void* msghdr, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(nint fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "mkdtemp", SetLastError = true)]
    private static partial byte* MkdTemp(byte* template);

    /// <summary>mkdtemp: a new directory, mode 0700, its name's trailing XXXXXX replaced at random.</summary>
    public static string MakeTempDirectory(string template)
    {
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(template) + 1];
        System.Text.Encoding.UTF8.GetBytes(template, bytes);
        fixed (byte* p = bytes)
        {
            if (MkdTemp(p) == null)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IpcException(IpcStatus.Io,
                    $"mkdtemp({template}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }

            return Marshal.PtrToStringUTF8((nint)p)!;
        }
    }

    /// <summary>The OS's text for an errno, with the number: "No such file or directory (errno 2)".</summary>
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    public const int EINTR = 4;
    public const int EPIPE = 32;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }
}
