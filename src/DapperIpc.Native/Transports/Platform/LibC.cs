using System;
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

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>Waits until fd is readable (data, end of stream or an error: a recv will not block) or timeoutMs passes (negative: no limit).</summary>
    public static bool PollIn(nint fd, int timeoutMs)
    {
        long deadline = timeoutMs < 0 ? 0 : System.Diagnostics.Stopwatch.GetTimestamp() + timeoutMs * System.Diagnostics.Stopwatch.Frequency / 1000;
        while (true)
        {
            PollFd p = new() { Fd = (int)fd, Events = 1 }; // POLLIN, the same on Linux and the BSDs
            int n = Poll(&p, 1, timeoutMs);
            if (n >= 0)
            {
                return n > 0;
            }

            if (Marshal.GetLastPInvokeError() != EINTR)
            {
                return true; // let the recv report the error
            }

            if (timeoutMs > 0)
            {
                timeoutMs = (int)Math.Max(0, (deadline - System.Diagnostics.Stopwatch.GetTimestamp()) * 1000 / System.Diagnostics.Stopwatch.Frequency);
            }
        }
    }

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

    public const int EINTR = 4;
    public const int EPIPE = 32;
}
