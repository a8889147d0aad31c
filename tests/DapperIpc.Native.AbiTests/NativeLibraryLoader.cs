using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DapperIpc.AbiTests.Native;

namespace DapperIpc.AbiTests;

/// <summary>
/// Points the generated bindings at the AOT-published library, never the managed assembly:
/// DAPPER_IPC_LIBRARY when set (CTest sets it to the build's library), otherwise a
/// library this test run publishes itself.
/// </summary>
internal static class NativeLibraryLoader
{
    private static readonly Lazy<string> s_path = new(Resolve);
    private static readonly Lazy<nint> s_handle = new(() => NativeLibrary.Load(s_path.Value));

    public static string LibraryPath => s_path.Value;

    public static nint Handle => s_handle.Value;

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string HeaderPath => Path.Combine(RepoRoot, "include", "dapper_ipc.h");

#pragma warning disable CA2255 // The resolver must be in place before any generated P/Invoke runs.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
        => NativeLibrary.SetDllImportResolver(typeof(DapperIpcNative).Assembly,
            (name, _, _) => name == DapperIpcNative.Library ? Handle : 0);

    private static string Resolve()
    {
        string? explicitPath = Environment.GetEnvironmentVariable("DAPPER_IPC_LIBRARY");
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return Path.GetFullPath(explicitPath);
        }

        string output = Path.Combine(AppContext.BaseDirectory, "published-library");
        string library = Path.Combine(output, OperatingSystem.IsWindows() ? "dapper_ipc.dll"
            : OperatingSystem.IsMacOS() ? "libdapper_ipc.dylib" : "libdapper_ipc.so");
        var publish = Process.Start(new ProcessStartInfo("dotnet",
            ["publish", Path.Combine(RepoRoot, "src", "DapperIpc.Native", "DapperIpc.Native.csproj"),
             "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier, "-o", output, "--nologo"])
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string log = publish.StandardOutput.ReadToEnd() + publish.StandardError.ReadToEnd();
        publish.WaitForExit();
        if (publish.ExitCode != 0 || !File.Exists(library))
        {
            throw new InvalidOperationException($"publishing the library failed:\n{log}");
        }

        return library;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Dapper.Native.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (Dapper.Native.sln) above " + AppContext.BaseDirectory);
    }
}

/// <summary>Small helpers over the generated bindings.</summary>
internal static unsafe class Abi
{
    public static string LastError()
    {
        nuint needed;
        DapperIpcNative.dapper_ipc_last_error(null, 0, &needed);
        byte* buf = stackalloc byte[(int)needed + 1];
        DapperIpcNative.dapper_ipc_last_error(buf, needed, null);
        return Marshal.PtrToStringUTF8((nint)buf) ?? "";
    }

    public static string Text(byte* s) => Marshal.PtrToStringUTF8((nint)s) ?? "";

    public static dapper_ipc_manager Create()
    {
        dapper_ipc_manager m;
        Assert.Equal(0, DapperIpcNative.dapper_ipc_manager_create(&m));
        return m;
    }

    /// <summary>A listener's launcher arguments, split.</summary>
    public static string[] LauncherArgs(dapper_ipc_manager m)
    {
        nuint length;
        int argc;
        byte* buf = stackalloc byte[1024];
        Assert.Equal(0, DapperIpcNative.dapper_ipc_launcher_args(m, buf, 1024, &length, &argc));
        string[] args = System.Text.Encoding.UTF8.GetString(buf, (int)length).Split('\0')[..^1];
        Assert.Equal(argc, args.Length);
        return args;
    }

    public static int Listen(dapper_ipc_manager m, string transport, string? host = null, uint flags = 0)
    {
        dapper_ipc_config config;
        DapperIpcNative.dapper_ipc_config_init(&config, (nuint)sizeof(dapper_ipc_config));
        fixed (byte* t = Utf8(transport))
        fixed (byte* h = host is null ? null : Utf8(host))
        {
            config.transport = t;
            config.host = h;
            config.flags = flags;
            return DapperIpcNative.dapper_ipc_create_listener(m, &config);
        }
    }

    public static int Connect(dapper_ipc_manager m, string[] args)
    {
        dapper_ipc_config config;
        DapperIpcNative.dapper_ipc_config_init(&config, (nuint)sizeof(dapper_ipc_config));
        fixed (byte* t = Utf8(args[1]))
        fixed (byte* p = Utf8(args[3]))
        {
            config.transport = t;
            if (args[1] == "unix")
            {
                config.path = p;
            }
            else
            {
                config.host = p;
                config.port = int.Parse(args[5]);
            }

            return DapperIpcNative.dapper_ipc_connect(m, &config);
        }
    }

    public static byte[] Utf8(string s) => System.Text.Encoding.UTF8.GetBytes(s + "\0");

    /// <summary>A listener and a client connected to it, accepted.</summary>
    public static (dapper_ipc_manager Server, dapper_ipc_manager Client) Pair(string transport)
    {
        var server = Create();
        Assert.Equal(0, Listen(server, transport));
        var client = Create();
        Assert.Equal(0, Connect(client, LauncherArgs(server)));
        Assert.Equal(0, DapperIpcNative.dapper_ipc_wait_for_client(server, 20_000));
        return (server, client);
    }

    /// <summary>The payloads as one dapper_ipc_send_batch (one writev: they arrive as a burst).</summary>
    public static void SendBatch(dapper_ipc_manager m, IReadOnlyList<(int Kind, string Payload)> frames)
    {
        var payloads = frames.Select(f => System.Text.Encoding.UTF8.GetBytes(f.Payload)).ToArray();
        var pins = payloads.Select(p => GCHandle.Alloc(p, GCHandleType.Pinned)).ToArray();
        try
        {
            var batch = new dapper_ipc_frame[frames.Count];
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = new dapper_ipc_frame
                {
                    payload = (void*)pins[i].AddrOfPinnedObject(), length = (nuint)payloads[i].Length, kind = frames[i].Kind,
                };
            }

            nuint sent;
            fixed (dapper_ipc_frame* f = batch)
            {
                Assert.Equal(0, DapperIpcNative.dapper_ipc_send_batch(m, f, (nuint)batch.Length, &sent));
            }
        }
        finally
        {
            foreach (var pin in pins)
            {
                pin.Free();
            }
        }
    }

    public static int Send(dapper_ipc_manager m, int kind, string json)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(json);
        fixed (byte* p = bytes)
        {
            return DapperIpcNative.dapper_ipc_send(m, kind, p, (nuint)bytes.Length);
        }
    }
}
