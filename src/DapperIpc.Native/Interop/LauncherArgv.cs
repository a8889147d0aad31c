using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using DapperIpc.Factory;

namespace DapperIpc.Interop;

/// <summary>
/// The launcher side of dapper_ipc_launcher_args: reads --ipc (unix, tcp, pipe, ws, tls, wss, shm, stdio or a registered transport), --ipc-path, --ipc-host,
/// --ipc-port, --ipc-pipe, --ipc-tls-fingerprint and --ipc-address (a registered transport's) out of a launcher's argv (as "--opt value" or "--opt=value";
/// everything else is ignored) into a TransportConfig for connect. A missing or
/// contradictory option is E_INVALID_ARGUMENT naming it.
/// </summary>
internal static class LauncherArgv
{
    private const string Ipc = "--ipc";
    private const string IpcPath = "--ipc-path";
    private const string IpcHost = "--ipc-host";
    private const string IpcPort = "--ipc-port";
    private const string IpcPipe = "--ipc-pipe";
    private const string IpcAddress = "--ipc-address";

    private const string IpcTlsFingerprint = "--ipc-tls-fingerprint";

    private static readonly string[] s_options = [Ipc, IpcPath, IpcHost, IpcPort, IpcPipe, IpcTlsFingerprint, IpcAddress];

    /// <summary>Which options belong to which transport; any other one given is a contradiction.</summary>
    private static readonly Dictionary<string, string[]> s_optionsOf = new(StringComparer.Ordinal)
    {
        ["unix"] = [IpcPath],
        ["tcp"] = [IpcHost, IpcPort],
        ["pipe"] = [IpcPipe],
        ["ws"] = [IpcHost, IpcPort],
        ["tls"] = [IpcHost, IpcPort, IpcTlsFingerprint],
        ["wss"] = [IpcHost, IpcPort, IpcTlsFingerprint],
        ["shm"] = [IpcPath],
        ["stdio"] = [],
    };

    /// <summary>A registered transport's only option: the address its launcher_address op gave.</summary>
    private static readonly string[] s_pluginOptions = [IpcAddress];

    /// <summary>dapper_ipc_connect_argv's argc/argv as the C caller passed them (the fuzz target's entry too).</summary>
    public static unsafe TransportConfig Parse(int argc, byte** argv)
    {
        if (argc < 0)
        {
            throw Invalid($"argc is {argc}");
        }

        if (argv == null && argc > 0)
        {
            throw Invalid("argv is NULL but argc is not 0");
        }

        var args = new string?[argc];
        var notUtf8 = new bool[argc];
        for (int i = 0; i < argc; i++)
        {
            if (argv[i] != null)
            {
                // Decoded leniently (the launcher's own arguments may be any bytes), but an
                // option of ours whose bytes are not UTF-8 is refused: U+FFFD in a path would
                // connect somewhere else (NativeConfig refuses such strings too).
                var bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(argv[i]);
                notUtf8[i] = !Utf8.IsValid(bytes);
                args[i] = Encoding.UTF8.GetString(bytes);
            }
        }

        return Parse(args, notUtf8);
    }

    public static TransportConfig Parse(IReadOnlyList<string?> argv) => Parse(argv, notUtf8: null);

    private static TransportConfig Parse(IReadOnlyList<string?> argv, bool[]? notUtf8)
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < argv.Count; i++)
        {
            string arg = argv[i] ?? throw Invalid($"argv[{i}] is NULL");
            string? option = null;
            string? value = null;
            foreach (string o in s_options)
            {
                if (arg == o)
                {
                    option = o;
                    if (i + 1 >= argv.Count || argv[i + 1] is null)
                    {
                        throw Invalid($"{o} needs a value (it is the last argument)");
                    }

                    value = argv[++i]!;
                    break;
                }

                if (arg.StartsWith(o + "=", StringComparison.Ordinal))
                {
                    option = o;
                    value = arg.Substring(o.Length + 1);
                    break;
                }
            }

            if (option is null)
            {
                continue; // not ours: a launcher has arguments of its own
            }

            if (notUtf8 is not null && notUtf8[i])
            {
                throw Invalid($"{option}: argv[{i}] is not valid UTF-8; the options' values must be UTF-8");
            }

            if (found.TryGetValue(option, out string? earlier) && earlier != value)
            {
                throw Invalid($"{option} is given twice, as '{earlier}' and as '{value}'");
            }

            found[option] = value!;
        }

        if (!found.TryGetValue(Ipc, out string? transport))
        {
            throw Invalid("--ipc is missing from argv (expected --ipc unix|tcp|pipe|ws|tls|wss|shm)");
        }

        transport = transport.ToLowerInvariant();
        bool plugin = !s_optionsOf.ContainsKey(transport) && Transports.Plugin.PluginTransport.Find(transport) is not null;
        if (!s_optionsOf.TryGetValue(transport, out string[]? own) && !plugin)
        {
            throw Invalid($"--ipc {found[Ipc]}: expected unix, tcp, pipe, ws, tls, wss, shm, stdio or a registered transport");
        }

        own ??= s_pluginOptions;

        foreach (string option in found.Keys)
        {
            if (option != Ipc && Array.IndexOf(own, option) < 0)
            {
                throw Invalid($"{option} contradicts --ipc {transport} (it belongs to another transport)");
            }
        }

        var config = new TransportConfig { Transport = transport };
        switch (transport)
        {
            case "unix":
            case "shm":
                config.Path = Required(found, IpcPath, transport);
                break;
            case "tcp":
            case "ws":
            case "tls":
            case "wss":
                string port = Required(found, IpcPort, transport);
                if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number is < 1 or > 65535)
                {
                    throw Invalid($"--ipc-port {port}: expected a port between 1 and 65535");
                }

                config.Port = number;
                config.Host = found.TryGetValue(IpcHost, out string? host) ? host : null;
                if (config.Host is "")
                {
                    throw Invalid("--ipc-host is empty");
                }

                if (found.TryGetValue(IpcTlsFingerprint, out string? fingerprint))
                {
                    _ = Transports.Tls.TlsContext.ParseFingerprint(fingerprint, IpcTlsFingerprint); // refused here, naming the option
                    config.TlsFingerprint = fingerprint;
                }

                break;
            case "pipe":
                config.PipeName = Required(found, IpcPipe, transport);
                break;
            case "stdio":
                break;
            default:
                config.Path = Required(found, IpcAddress, transport);
                break;
        }

        return config;
    }

    private static string Required(Dictionary<string, string> found, string option, string transport)
    {
        if (!found.TryGetValue(option, out string? value))
        {
            throw Invalid($"{option} is missing from argv (--ipc {transport} needs it)");
        }

        if (value.Length == 0)
        {
            throw Invalid($"{option} is empty");
        }

        return value;
    }

    private static IpcException Invalid(string message) => new(IpcStatus.InvalidArgument, message);
}
