using System;

namespace DapperIpc.Transports.Ws;

/// <summary>The client's opening handshake on a fresh tcp connection: one request, the listener's answer checked, all within <see cref="WsListener.HandshakeTimeoutMs"/>.</summary>
internal static class WsConnector
{
    public static void Upgrade(SocketConnection connection, string hostHeader, string? token, string url)
    {
        string key = WsHandshake.NewKey();
        connection.SendHandshake(System.Text.Encoding.ASCII.GetBytes(WsHandshake.Request(hostHeader, key, token)));
        long deadline = ConnectionBase.Deadline(WsListener.HandshakeTimeoutMs);
        byte[] buffer = new byte[WsHandshake.MaxHeadSize];
        int length = 0;
        int head = 0;
        while (head == 0)
        {
            long left = deadline - System.Diagnostics.Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                throw new IpcException(IpcStatus.Timeout, $"the websocket listener {url} did not answer the upgrade within {WsListener.HandshakeTimeoutMs} ms");
            }

            if (length == buffer.Length)
            {
                throw new IpcException(IpcStatus.Protocol, $"the websocket listener {url} answered with a head longer than {WsHandshake.MaxHeadSize} bytes");
            }

            int n = connection.Receive(buffer.AsSpan(length), (int)Math.Max(1, left * 1000 / System.Diagnostics.Stopwatch.Frequency));
            if (n == 0)
            {
                throw new IpcException(IpcStatus.ConnectionRefused, $"the websocket listener {url} closed the connection without answering the upgrade");
            }

            if (n > 0)
            {
                length += n;
                head = WsHandshake.HeadLength(buffer.AsSpan(0, length));
            }
        }

        string? problem = WsHandshake.CheckResponse(buffer.AsSpan(0, head), key);
        if (problem is not null)
        {
            bool refused = problem.StartsWith("the listener refused", StringComparison.Ordinal);
            string body = WsHandshake.Printable(System.Text.Encoding.UTF8.GetString(buffer, head, length - head).Trim());
            throw new IpcException(refused ? IpcStatus.ConnectionRefused : IpcStatus.Protocol,
                $"websocket {url}: {problem}{(refused && body.Length > 0 ? $" ({body})" : "")}");
        }

        connection.UseWebSocket(isClient: true, buffer.AsSpan(head, length - head));
    }
}
