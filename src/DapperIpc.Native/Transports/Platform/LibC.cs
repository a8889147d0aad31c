using System;
using System.Runtime.InteropServices;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// POSIX calls shared by Linux and the BSDs (macOS) whose arguments are plain ints, pointers
/// and strings: no struct and no platform constant crosses. Bound at link time in the AOT
/// build (DirectPInvoke). Calls that depend on a C layout or a platform constant are in
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

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>Throws Io with the errno's text when a call returned a negative result.</summary>
    public static void Check(int result, string call)
    {
        if (result < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IpcException(IpcStatus.Io, $"{call} failed: {Describe(errno)}");
        }
    }
}
