using System.Net.Sockets;
using System.Text.RegularExpressions;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Tests;

/// <summary>
/// The C shim (Native/socket_io.c) in the JIT: the managed tests load the same C as
/// libdapper_ipc_shim, and the errno classes C# mirrors are the ones the C file defines.
/// </summary>
public sealed class SocketShimTests
{
    private static string SocketIoSource()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "src", "DapperIpc.Native", "Native", "socket_io.c");
            if (File.Exists(candidate))
            {
                return File.ReadAllText(candidate);
            }
        }

        throw new FileNotFoundException("src/DapperIpc.Native/Native/socket_io.c not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void The_errno_classes_of_CSharp_are_the_ones_socket_io_c_defines()
    {
        var defined = Regex.Matches(SocketIoSource(), @"DAPPER_IPC_ERRC_([A-Z_]+)\s*=\s*(-?\d+)")
            .ToDictionary(m => string.Concat(m.Groups[1].Value.Split('_').Select(w => w[..1] + w[1..].ToLowerInvariant())),
                m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        var mirrored = Enum.GetValues<ErrnoClass>().Where(c => c != ErrnoClass.None).ToDictionary(c => c.ToString(), c => (int)c);

        Assert.NotEmpty(defined);
        Assert.Equal(defined.OrderBy(p => p.Key), mirrored.OrderBy(p => p.Key));
        Assert.Equal(0, (int)ErrnoClass.None);
    }

    [LinuxFact("the errno numbers below are Linux's; the shim, not this test, knows them elsewhere")]
    public void The_shim_classifies_the_platform_errno_values()
    {
        Assert.Equal(ErrnoClass.None, SocketShim.Classify(0));
        Assert.Equal(ErrnoClass.WouldBlock, SocketShim.Classify(11));   // EAGAIN
        Assert.Equal(ErrnoClass.PeerGone, SocketShim.Classify(32));     // EPIPE
        Assert.Equal(ErrnoClass.PeerGone, SocketShim.Classify(104));    // ECONNRESET
        Assert.Equal(ErrnoClass.PeerGone, SocketShim.Classify(107));    // ENOTCONN
        Assert.Equal(ErrnoClass.PeerGone, SocketShim.Classify(108));    // ESHUTDOWN
        Assert.Equal(ErrnoClass.Interrupted, SocketShim.Classify(4));   // EINTR
        Assert.Equal(ErrnoClass.NoDescriptors, SocketShim.Classify(24)); // EMFILE
        Assert.Equal(ErrnoClass.NoDescriptors, SocketShim.Classify(23)); // ENFILE
        Assert.Equal(ErrnoClass.AddressInUse, SocketShim.Classify(98)); // EADDRINUSE
        Assert.Equal(ErrnoClass.TimedOut, SocketShim.Classify(110));    // ETIMEDOUT
        Assert.Equal(ErrnoClass.NotPermitted, SocketShim.Classify(1));  // EPERM
        Assert.Equal(ErrnoClass.Other, SocketShim.Classify(2));         // ENOENT
    }

    [PosixFact("Windows AF_UNIX has no peer credentials (and the C shim is not built there)")]
    public void The_peer_uid_of_a_socket_pair_is_this_process_s()
    {
        string dir = Directory.CreateTempSubdirectory("dapper-shim-").FullName;
        try
        {
            string path = Path.Combine(dir, "s");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            client.Connect(new UnixDomainSocketEndPoint(path));
            using var accepted = listener.Accept();
            Assert.Equal(PeerCredentials.CurrentUserId, PeerCredentials.PeerUserId(accepted.SafeHandle.DangerousGetHandle()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
