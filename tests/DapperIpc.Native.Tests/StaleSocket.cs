using System.Runtime.InteropServices;
using System.Text;

namespace DapperIpc.Tests;

/// <summary>
/// Leaves a stale unix socket file behind, as a listener that died does: a raw socket is
/// bound with libc and closed without unlinking. (.NET's Socket unlinks the path it bound
/// when it is disposed, so it cannot make one.)
/// </summary>
internal static unsafe partial class StaleSocket
{
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, byte* address, uint length);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    private static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    public static void Create(string path)
    {
        byte[] name = Encoding.UTF8.GetBytes(path);
        // sockaddr_un: Linux { u16 family; char path[108]; }, BSDs { u8 len; u8 family; char path[104]; }.
        byte* address = stackalloc byte[110];
        new Span<byte>(address, 110).Clear();
        if (OperatingSystem.IsLinux())
        {
            *(ushort*)address = AF_UNIX;
        }
        else
        {
            address[0] = (byte)(2 + name.Length + 1);
            address[1] = AF_UNIX;
        }

        name.CopyTo(new Span<byte>(address + 2, 107));
        int fd = Socket(AF_UNIX, SOCK_STREAM, 0);
        Assert.True(fd >= 0, $"socket failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            Assert.True(Bind(fd, address, (uint)(2 + name.Length + 1)) == 0, $"bind failed: errno {Marshal.GetLastPInvokeError()}");
            Assert.True(Listen(fd, 1) == 0, $"listen failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            Close(fd);
        }
    }
}
