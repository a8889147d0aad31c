using System.Text;

namespace DapperIpc.Transports.Plugin;

/// <summary>connect over a registered transport: its connect op, then the auth frame when there is a token, as for a socket.</summary>
internal static unsafe class PluginConnector
{
    public static ConnectionBase Connect(PluginTransport transport, string? address, ConnectionOptions options, int timeoutMs)
    {
        if (transport.Ops.Connect == null)
        {
            throw new IpcException(IpcStatus.Unsupported, $"transport '{transport.Name}' cannot connect (its ops have no connect)");
        }

        void* handle = null;
        int status;
        byte[]? utf8 = address is null ? null : Encoding.UTF8.GetBytes(address + "\0");
        fixed (byte* a = utf8)
        {
            status = transport.Ops.Connect(transport.User, a, timeoutMs, &handle);
        }

        if (status != 0)
        {
            throw transport.Failed("connect", status);
        }

        PluginConnection connection = transport.Connection(handle, options, address ?? "(no address)");
        if (options.AuthToken is not null)
        {
            try
            {
                TokenHandshake.Present(connection, options.AuthToken);
            }
            catch
            {
                connection.DisposeNow();
                throw;
            }
        }

        return connection;
    }
}
