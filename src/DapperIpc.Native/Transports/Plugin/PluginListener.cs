using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;

namespace DapperIpc.Transports.Plugin;

/// <summary>
/// A listener of a registered transport. accept may block on the reader's thread while
/// cleanup disposes the listener on another: Dispose calls stop_listener (which wakes it),
/// and close_listener runs once the last of Dispose and a running accept is done, so the
/// host never frees a listener an accept is still inside.
/// </summary>
internal sealed unsafe class PluginListener : ListenerBase
{
    private readonly PluginTransport _transport;
    private readonly void* _handle;
    private readonly ConnectionOptions _options;
    private readonly string _address;
    private int _users = 1; // the owner, plus each accept in progress
    private int _stopped;

    private PluginListener(PluginTransport transport, void* handle, string address, ConnectionOptions options)
    {
        _transport = transport;
        _handle = handle;
        _address = address;
        _options = options;
        LauncherArgs = ["--ipc", transport.Name, "--ipc-address", address];
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description => $"{_transport.Name}:{_address}";

    public static PluginListener Create(PluginTransport transport, string? address, ConnectionOptions options)
    {
        NativeTransportOps ops = transport.Ops;
        if (ops.Listen == null)
        {
            throw new IpcException(IpcStatus.Unsupported, $"transport '{transport.Name}' cannot listen (its ops have no listen)");
        }

        if (options.AuthToken is not null)
        {
            throw new IpcException(IpcStatus.Unsupported,
                $"transport '{transport.Name}': DAPPER_IPC_FLAG_REQUIRE_AUTH is not supported on registered transports (the transport authenticates its peers)");
        }

        void* handle = null;
        int status;
        byte[]? utf8 = address is null ? null : Encoding.UTF8.GetBytes(address + "\0");
        fixed (byte* a = utf8)
        {
            status = ops.Listen(transport.User, a, &handle);
        }

        if (status != 0)
        {
            throw transport.Failed("listen", status);
        }

        try
        {
            return new PluginListener(transport, handle, ReadAddress(transport, handle), options);
        }
        catch
        {
            ops.StopListener(transport.User, handle);
            ops.CloseListener(transport.User, handle);
            throw;
        }
    }

    private static string ReadAddress(PluginTransport transport, void* handle)
    {
        for (int cap = 256; cap <= 1 << 16; cap *= 4)
        {
            byte[] buffer = new byte[cap];
            int status;
            fixed (byte* b = buffer)
            {
                status = transport.Ops.LauncherAddress(transport.User, handle, b, (nuint)cap);
            }

            if (status == (int)IpcStatus.BufferTooSmall)
            {
                continue;
            }

            if (status != 0)
            {
                throw transport.Failed("launcher_address", status);
            }

            int end = Array.IndexOf(buffer, (byte)0);
            if (end <= 0)
            {
                throw new IpcException(IpcStatus.Protocol,
                    $"transport '{transport.Name}': launcher_address gave {(end == 0 ? "an empty address" : "no NUL-terminated address")}");
            }

            return Encoding.UTF8.GetString(buffer, 0, end);
        }

        throw new IpcException(IpcStatus.Protocol, $"transport '{transport.Name}': launcher_address needs more than 64 KiB");
    }

    public override ConnectionBase? Accept(int timeoutMs)
    {
        if (!Enter())
        {
            throw new IpcException(IpcStatus.Cancelled, $"the listener {Description} was closed");
        }

        try
        {
            void* connection = null;
            int status = _transport.Ops.Accept(_transport.User, _handle, timeoutMs, &connection);
            if (Volatile.Read(ref _stopped) != 0)
            {
                if (status == 0)
                {
                    _transport.Ops.Shutdown(_transport.User, connection);
                    _transport.Ops.Close(_transport.User, connection);
                }

                throw new IpcException(IpcStatus.Cancelled, $"the listener {Description} was closed");
            }

            return status switch
            {
                0 => _transport.Connection(connection, _options, _address),
                (int)IpcStatus.Timeout => null,
                _ => throw _transport.Failed("accept", status),
            };
        }
        finally
        {
            Leave();
        }
    }

    private bool Enter()
    {
        while (true)
        {
            int users = Volatile.Read(ref _users);
            if (users == 0 || Volatile.Read(ref _stopped) != 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _users, users + 1, users) == users)
            {
                return true;
            }
        }
    }

    private void Leave()
    {
        if (Interlocked.Decrement(ref _users) == 0)
        {
            _transport.Ops.CloseListener(_transport.User, _handle);
        }
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _transport.Ops.StopListener(_transport.User, _handle);
        Leave();
    }
}
