using System.Runtime.InteropServices;
using DapperIpc.Interop;

namespace DapperIpc.Tests;

/// <summary>dapper_ipc_connect_argv's parsing from the C side (argc, argv as bytes).</summary>
public unsafe class LauncherArgvTests
{
    private static Factory.TransportConfig Parse(params byte[][] args)
    {
        var handles = args.Select(a => GCHandle.Alloc(a.Append((byte)0).ToArray(), GCHandleType.Pinned)).ToArray();
        try
        {
            byte** argv = stackalloc byte*[args.Length + 1];
            for (int i = 0; i < args.Length; i++)
            {
                argv[i] = (byte*)handles[i].AddrOfPinnedObject();
            }

            argv[args.Length] = null;
            return LauncherArgv.Parse(args.Length, argv);
        }
        finally
        {
            foreach (var h in handles)
            {
                h.Free();
            }
        }
    }

    [Fact]
    public void An_option_value_that_is_not_utf8_is_refused_naming_it()
    {
        // Found by the launcher-argv fuzz target (tests/fuzz/crashes/launcher-argv): the bytes
        // were decoded leniently, so /tmp/\xff became /tmp/U+FFFD and the launcher connected
        // (or failed to) somewhere other than the path it was given. The config struct
        // refuses such strings; argv now does too, for the options it reads.
        var e = Assert.Throws<IpcException>(() => Parse("--ipc"u8.ToArray(), "unix"u8.ToArray(), "--ipc-path"u8.ToArray(), [.. "/tmp/"u8, 0xFF]));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("--ipc-path", e.Message);
        Assert.Contains("argv[3] is not valid UTF-8", e.Message);

        e = Assert.Throws<IpcException>(() => Parse("--ipc=tcp"u8.ToArray(), [.. "--ipc-host=h"u8, 0xC0, 0xAF], "--ipc-port=80"u8.ToArray()));
        Assert.Contains("--ipc-host", e.Message);
        Assert.Contains("argv[1] is not valid UTF-8", e.Message);
    }

    [Fact]
    public void The_launchers_own_arguments_may_be_any_bytes()
    {
        var config = Parse([0xFF, 0xFE], "--ipc"u8.ToArray(), "unix"u8.ToArray(), "--ipc-path"u8.ToArray(), "/tmp/d\u00e9j\u00e0"u8.ToArray(), [.. "--file="u8, 0x80]);
        Assert.Equal("unix", config.Transport);
        Assert.Equal("/tmp/d\u00e9j\u00e0", config.Path);
    }
}
