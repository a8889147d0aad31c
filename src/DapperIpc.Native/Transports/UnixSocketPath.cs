using System;
using System.IO;
using System.Text;

namespace DapperIpc.Transports;

/// <summary>The rules for unix socket paths: they must fit sun_path and are never truncated.</summary>
internal static class UnixSocketPath
{
    /// <summary>sun_path holds 104 bytes on macOS and the BSDs, 108 on Linux and Windows; the terminator takes one.</summary>
    public static int MaxBytes => OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 103 : 107;

    public const string SocketFileName = "ipc.sock";

    public static void CheckLength(string path)
    {
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxBytes)
        {
            throw new IpcException(IpcStatus.PathTooLong,
                $"unix socket path is {bytes} bytes, longer than the {MaxBytes} that sun_path holds on this platform: {path}");
        }
    }

    /// <summary>
    /// Makes a fresh directory, mode 0700 with a random name, for the socket: under the
    /// temp directory when the result fits sun_path (macOS's per-user temp directory is
    /// long), otherwise under /tmp. mkdtemp creates it atomically, so a squatter cannot
    /// have prepared it.
    /// </summary>
    public static string CreatePrivateDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            return Directory.CreateTempSubdirectory("dapper-").FullName;
        }

        string temp = Path.GetTempPath();
        int budget = MaxBytes - SocketFileName.Length - 1 - "dapper-XXXXXX/".Length;
        if (Encoding.UTF8.GetByteCount(temp) > budget)
        {
            temp = "/tmp/";
        }

        return Platform.LibC.MakeTempDirectory(Path.Combine(temp, "dapper-XXXXXX"));
    }
}
