using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// Layout-free POSIX calls shared by Linux and the BSDs (macOS). Bound at link time in the
/// AOT build (DirectPInvoke). Calls that depend on a C layout or a platform constant are in
/// Native/*.c instead (<see cref="SocketShim"/>).
/// </summary>
internal static unsafe partial class LibC
{
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
}
