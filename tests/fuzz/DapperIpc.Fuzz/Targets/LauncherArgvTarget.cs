using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using DapperIpc.Factory;
using DapperIpc.Interop;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Interop/LauncherArgv.cs from the C side of dapper_ipc_connect_argv: the input's
/// NUL-separated strings become argv (a lone 0x01 is a NULL entry), copied into unmanaged
/// memory. What the parser accepts is checked against the options as the header documents
/// them: --ipc unix|tcp|pipe|ws|tls|wss, --ipc-path, --ipc-host, --ipc-port, --ipc-pipe,
/// --ipc-tls-fingerprint (tls and wss, sha256: and 64 hex digits), each as
/// "--opt value" or "--opt=value", everything else ignored.
/// </summary>
internal static unsafe class LauncherArgvTarget
{
    private static readonly string[] Options = ["--ipc", "--ipc-path", "--ipc-host", "--ipc-port", "--ipc-pipe", "--ipc-tls-fingerprint"];

    public static void Run(ReadOnlySpan<byte> data)
    {
        List<byte[]> args = NativeConfigTarget.Split(data);
        var native = new List<nint>();
        byte** argv = (byte**)NativeMemory.Alloc((nuint)Math.Max(1, args.Count), (nuint)sizeof(byte*));
        try
        {
            for (int i = 0; i < args.Count; i++)
            {
                if (args[i] is [1])
                {
                    argv[i] = null;
                    continue;
                }

                byte* s = (byte*)NativeMemory.Alloc((nuint)args[i].Length + 1);
                args[i].CopyTo(new Span<byte>(s, args[i].Length));
                s[args[i].Length] = 0;
                argv[i] = s;
                native.Add((nint)s);
            }

            TransportConfig config;
            try
            {
                config = LauncherArgv.Parse(args.Count, argv);
            }
            catch (Exception e)
            {
                Invariant.Refusal(e, IpcStatus.InvalidArgument);
                return;
            }

            CheckAccepted(args, config);
        }
        finally
        {
            foreach (nint s in native)
            {
                NativeMemory.Free((void*)s);
            }

            NativeMemory.Free(argv);
        }
    }

    private static void CheckAccepted(List<byte[]> args, TransportConfig config)
    {
        Invariant.Check(!args.Exists(a => a is [1]), "an argv with a NULL entry was accepted");

        // The options as given, with their values' bytes.
        var given = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = Encoding.UTF8.GetString(args[i]);
            foreach (string option in Options)
            {
                byte[]? value = null;
                if (arg == option && i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else if (arg.StartsWith(option + "=", StringComparison.Ordinal))
                {
                    value = args[i][(Encoding.UTF8.GetByteCount(option) + 1)..];
                }

                if (value is not null)
                {
                    Invariant.Check(!given.TryGetValue(option, out byte[]? earlier) || earlier.AsSpan().SequenceEqual(value),
                        $"{option} given twice with different values was accepted");
                    given[option] = value;
                    break;
                }
            }
        }

        Invariant.Check(given.TryGetValue("--ipc", out byte[]? transport), "accepted without --ipc");
        string kind = Encoding.UTF8.GetString(transport!).ToLowerInvariant();
        Invariant.Check(config.Transport == kind && kind is "unix" or "tcp" or "pipe" or "ws" or "tls" or "wss", $"transport '{config.Transport}' is not the --ipc given");
        string[] own = kind switch
        {
            "unix" => ["--ipc-path"],
            "tcp" or "ws" => ["--ipc-host", "--ipc-port"],
            "tls" or "wss" => ["--ipc-host", "--ipc-port", "--ipc-tls-fingerprint"],
            _ => ["--ipc-pipe"],
        };
        foreach (string option in given.Keys)
        {
            Invariant.Check(option == "--ipc" || Array.IndexOf(own, option) >= 0, $"{option} with --ipc {kind} was accepted");
        }

        switch (kind)
        {
            case "unix":
                Invariant.Check(Same(config.Path, given["--ipc-path"]), "the path to connect to is not the bytes the launcher gave");
                Invariant.Check(config.Host is null && config.Port == 0 && config.PipeName is null, "a unix config carries another transport's address");
                break;
            case "tcp" or "ws" or "tls" or "wss":
                byte[] port = given["--ipc-port"];
                Invariant.Check(port.Length > 0 && Array.TrueForAll(port, b => b is >= (byte)'0' and <= (byte)'9'), "a port that is not decimal digits was accepted");
                // Leading zeros are decimal digits too ("00040123" is port 40123): compare the value.
                string digits = Encoding.ASCII.GetString(port).TrimStart('0');
                Invariant.Check(digits.Length is > 0 and <= 5 && config.Port is >= 1 and <= 65535 &&
                    config.Port == int.Parse(digits, System.Globalization.CultureInfo.InvariantCulture),
                    $"port {config.Port} is not the --ipc-port given");
                Invariant.Check(given.TryGetValue("--ipc-host", out byte[]? host) ? Same(config.Host, host) : config.Host is null,
                    "the host to connect to is not the bytes the launcher gave");
                Invariant.Check(config.Path is null && config.PipeName is null, "a tcp config carries another transport's address");
                Invariant.Check(given.TryGetValue("--ipc-tls-fingerprint", out byte[]? pin)
                        ? Same(config.TlsFingerprint, pin) && IsFingerprint(config.TlsFingerprint!)
                        : config.TlsFingerprint is null,
                    "the pinned fingerprint is not a sha256 the launcher gave");
                break;
            default:
                Invariant.Check(Same(config.PipeName, given["--ipc-pipe"]), "the pipe name is not the bytes the launcher gave");
                Invariant.Check(config.Path is null && config.Host is null && config.Port == 0, "a pipe config carries another transport's address");
                break;
        }
    }

    /// <summary>"sha256:" (any case) then 64 hex digits, colons between bytes allowed, as the header documents.</summary>
    private static bool IsFingerprint(string s)
    {
        string hex = s.Trim();
        hex = hex.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? hex[7..] : hex;
        hex = hex.Replace(":", "", StringComparison.Ordinal);
        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit);
    }

    /// <summary>A non-empty value that is exactly the launcher's bytes (no lossy decoding).</summary>
    private static bool Same(string? value, byte[] given)
        => value is { Length: > 0 } && Encoding.UTF8.GetBytes(value).AsSpan().SequenceEqual(given);
}
