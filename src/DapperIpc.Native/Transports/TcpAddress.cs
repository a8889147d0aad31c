using System;
using System.Net;
using System.Net.Sockets;

namespace DapperIpc.Transports;

internal static class TcpAddress
{
    /// <summary>An IP literal, or a name resolved to its first address (IPv4 preferred).</summary>
    public static IPAddress Resolve(string host)
    {
        if (IPAddress.TryParse(host, out IPAddress? literal))
        {
            return literal;
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        try
        {
            IPAddress[] addresses = Dns.GetHostAddresses(host);
            foreach (IPAddress a in addresses)
            {
                if (a.AddressFamily == AddressFamily.InterNetwork)
                {
                    return a;
                }
            }

            if (addresses.Length > 0)
            {
                return addresses[0];
            }
        }
        catch (SocketException e)
        {
            throw new IpcException(IpcStatus.InvalidArgument, $"cannot resolve host '{host}': {e.Message}", e);
        }

        throw new IpcException(IpcStatus.InvalidArgument, $"cannot resolve host '{host}': no address");
    }
}
