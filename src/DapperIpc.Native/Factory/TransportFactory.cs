using System;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Transports;
using DapperIpc.Transports.Adopted;
using DapperIpc.Transports.Pipe;
using DapperIpc.Transports.Plugin;

namespace DapperIpc.Factory;

/// <summary>
/// Resolves the transport a config asks for and creates listeners and client
/// connections for it (docs/architecture.md's TransportFactory).
/// </summary>
public static class TransportFactory
{
    /// <summary>Named pipes on Windows, unix sockets elsewhere.</summary>
    public static TransportKind GetDefaultTransport()
        => OperatingSystem.IsWindows() ? TransportKind.Pipe : TransportKind.Unix;

    /// <summary>
    /// The library's own transports by name, besides "auto": the one list that both name
    /// resolution and the names a plugin may not take (PluginTransport.BuiltIn) come from.
    /// </summary>
    internal static readonly (string Name, TransportKind Kind)[] Named =
    [
        ("unix", TransportKind.Unix),
        ("tcp", TransportKind.Tcp),
        ("pipe", TransportKind.Pipe),
        ("ws", TransportKind.Ws),
        ("tls", TransportKind.Tls),
        ("wss", TransportKind.Wss),
        ("shm", TransportKind.Shm),
        ("stdio", TransportKind.Stdio),
    ];

    /// <summary>"auto" (or null, or empty) means the platform default; names are case-insensitive.</summary>
    public static TransportKind ResolveTransport(string? name)
    {
        string trimmed = (name ?? string.Empty).Trim();
        if (trimmed.Length == 0 || trimmed.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return GetDefaultTransport();
        }

        foreach ((string builtIn, TransportKind kind) in Named)
        {
            if (trimmed.Equals(builtIn, StringComparison.OrdinalIgnoreCase))
            {
                return kind;
            }
        }

        if (PluginTransport.Find(trimmed) is not null)
        {
            return TransportKind.Plugin;
        }

        throw new IpcException(IpcStatus.InvalidArgument,
            $"unknown transport '{name}': expected one of {PluginTransport.KnownNames()}");
    }

    /// <summary>
    /// Creates a bound listener. A unix listener falls back to tcp on loopback, and logs
    /// why, only where unix sockets do not exist, or when the library's own private
    /// socket (no path given) cannot be set up for a reason tcp would not share (not for
    /// running out of file descriptors). A caller-given unix path that cannot be
    /// bound is an error (the caller asked for that path; a tcp listener would surprise).
    /// </summary>
    public static ListenerBase CreateListener(TransportConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        switch (ResolveTransport(config.Transport))
        {
            case TransportKind.Unix:
                try
                {
                    return UnixSocketListener.Create(config.Path, ListenerOptions(config));
                }
                catch (IpcException e) when (e.Status is IpcStatus.Unsupported
                                             || (e.Status is IpcStatus.Io && config.Path is null && !e.OutOfDescriptors))
                {
                    Log.UnixFallbackToTcp(e.Message);
                    return TcpSocketListener.Create(config.Host, config.Port, ListenerOptions(config));
                }

            case TransportKind.Tcp:
                return TcpSocketListener.Create(config.Host, config.Port, ListenerOptions(config));

            case TransportKind.Shm:
                // No fallback: a caller that asked for shared memory wants to know it has none.
                Transports.Shm.ShmRendezvous.RequireLinux();
                return UnixSocketListener.Create(config.Path, ListenerOptions(config), shm: true);

            case TransportKind.Ws:
                return Transports.Ws.WsListener.Create(config.Host, config.Port, config.WsOrigins, ListenerOptions(config));

            case TransportKind.Stdio:
                throw new IpcException(IpcStatus.InvalidArgument,
                    "the stdio transport has no listener: the adapter spawns the launcher with pipes and adopts them (dapper_ipc_adopt), the launcher connects over stdio");

            case TransportKind.Plugin:
                return PluginListener.Create(Plugin(config), config.Path, ListenerOptions(config));

            case TransportKind.Tls:
                return Transports.Tls.TlsListener.Create(config.Host, config.Port,
                    Transports.Tls.TlsContext.ForListener(config.TlsCertFile, config.TlsKeyFile, config.AllowTls12), ListenerOptions(config));

            case TransportKind.Wss:
                return Transports.Ws.WsListener.Create(config.Host, config.Port, config.WsOrigins, ListenerOptions(config),
                    Transports.Tls.TlsContext.ForListener(config.TlsCertFile, config.TlsKeyFile, config.AllowTls12));

            default:
                return OperatingSystem.IsWindows()
                    ? PipeListener.Create(config.PipeName, ListenerOptions(config))
                    : throw PipeUnsupported();
        }
    }

    /// <summary>
    /// Creates a bound listener that serves many clients (Sessions/SessionListener, which
    /// accepts with <see cref="ListenerBase.AcceptNext"/>): as <see cref="CreateListener"/>,
    /// with the same defaults and security, except that a Windows pipe listener makes a new
    /// instance of its name for each client.
    /// </summary>
    internal static ListenerBase CreateSharedListener(TransportConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        TransportKind kind = ResolveTransport(config.Transport);
        if (kind == TransportKind.Shm)
        {
            throw new IpcException(IpcStatus.Unsupported,
                "a session listener over shm is not supported: each session would need its own shared memory handshake; use unix");
        }

        if (kind != TransportKind.Pipe)
        {
            return CreateListener(config);
        }

        return OperatingSystem.IsWindows()
            ? PipeListener.CreateShared(config.PipeName, ListenerOptions(config))
            : throw PipeUnsupported();
    }

    /// <summary>Connects to an existing listener, retrying for up to the config's connect timeout.</summary>
    public static ConnectionBase CreateConnection(TransportConfig config, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        switch (ResolveTransport(config.Transport))
        {
            case TransportKind.Unix:
                if (string.IsNullOrEmpty(config.Path))
                {
                    throw new IpcException(IpcStatus.InvalidArgument, "the unix transport needs a path to connect to");
                }

                return SocketConnector.ConnectUnix(config.Path, ClientOptions(config), config.ConnectTimeoutMs, cancel);

            case TransportKind.Shm:
                Transports.Shm.ShmRendezvous.RequireLinux();
                if (string.IsNullOrEmpty(config.Path))
                {
                    throw new IpcException(IpcStatus.InvalidArgument, "the shm transport needs a path to connect to");
                }

                return SocketConnector.ConnectShm(config.Path, ClientOptions(config), config.ConnectTimeoutMs, cancel);

            case TransportKind.Tcp:
                if (config.Port <= 0)
                {
                    throw new IpcException(IpcStatus.InvalidArgument, "the tcp transport needs a port to connect to");
                }

                return SocketConnector.ConnectTcp(config.Host ?? "127.0.0.1", config.Port, ClientOptions(config),
                    config.ConnectTimeoutMs, cancel);

            case TransportKind.Ws:
                if (config.Port <= 0)
                {
                    throw new IpcException(IpcStatus.InvalidArgument, "the ws transport needs a port to connect to");
                }

                return SocketConnector.ConnectWs(config.Host ?? "127.0.0.1", config.Port, ClientOptions(config),
                    config.ConnectTimeoutMs, cancel);

            case TransportKind.Stdio:
                return Adopter.Stdio(ClientOptions(config));

            case TransportKind.Plugin:
                return PluginConnector.Connect(Plugin(config), config.Path, ClientOptions(config), config.ConnectTimeoutMs);

            case TransportKind.Tls:
            case TransportKind.Wss:
                if (config.Port <= 0)
                {
                    throw new IpcException(IpcStatus.InvalidArgument, $"the {config.Transport!.Trim().ToLowerInvariant()} transport needs a port to connect to");
                }

                var tls = Transports.Tls.TlsContext.ForClient(config.TlsFingerprint, config.AllowTls12);
                return SocketConnector.ConnectTls(config.Host ?? "127.0.0.1", config.Port, ClientOptions(config), tls,
                    webSocket: ResolveTransport(config.Transport) == TransportKind.Wss, config.ConnectTimeoutMs, cancel);

            default:
                if (!OperatingSystem.IsWindows())
                {
                    throw PipeUnsupported();
                }

                if (string.IsNullOrEmpty(config.PipeName))
                {
                    throw new IpcException(IpcStatus.InvalidArgument, "the pipe transport needs a pipe_name to connect to");
                }

                return PipeConnector.Connect(config.PipeName, ClientOptions(config), config.ConnectTimeoutMs, cancel);
        }
    }

    private static PluginTransport Plugin(TransportConfig config)
        => PluginTransport.Find((config.Transport ?? string.Empty).Trim())
           ?? throw new IpcException(IpcStatus.InvalidArgument, $"unknown transport '{config.Transport}'");

    private static IpcException PipeUnsupported() => new(IpcStatus.Unsupported,
        "the pipe transport (Windows named pipes) is not supported on this platform; use unix or tcp");

    private static ConnectionOptions ListenerOptions(TransportConfig config)
        => new(config.MaxFrameSize, config.SendTimeoutMs, config.RequireAuth ? TokenHandshake.NewToken() : null)
        {
            ShmRingBytes = config.ShmRingBytes,
            ShmSpinUs = config.ShmSpinUs,
        };

    private static ConnectionOptions ClientOptions(TransportConfig config)
        => new(config.MaxFrameSize, config.SendTimeoutMs,
            config.AuthToken ?? NullIfEmpty(Environment.GetEnvironmentVariable(ConnectionOptions.AuthTokenVariable)))
        {
            ShmSpinUs = config.ShmSpinUs,
        };

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
