using System;
using System.Diagnostics;
using DapperIpc.Framing;
using DapperIpc.Transports;

namespace DapperIpc.Sessions;

/// <summary>
/// Reads a session client's first frame, exactly that frame (what the client sends after
/// it stays in the socket or pipe for the session's reader), under one deadline and a size limit,
/// and parses it as a <see cref="SessionHello"/>.
/// </summary>
internal static class HelloReader
{
    /// <summary>The hello, or null with the reason to refuse the client.</summary>
    public static SessionHello? Read(ConnectionBase client, long deadline, int timeoutMs, uint maxSize, out string refusal)
    {
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        if (!client.ReceiveExactly(header, deadline))
        {
            refusal = Silent(deadline, timeoutMs);
            return null;
        }

        byte kind;
        uint length;
        try
        {
            (kind, length) = FrameHeader.Parse(header, maxSize);
        }
        catch (IpcException e)
        {
            refusal = e.Status == IpcStatus.FrameTooLarge
                ? $"its hello is larger than the limit of {maxSize} bytes ({e.Message})"
                : $"its first frame is not a DP v1 frame ({e.Message})";
            return null;
        }

        if (kind != FrameKind.Event)
        {
            refusal = $"its first frame is of kind {kind}, not a hello event (kind 1)";
            return null;
        }

        byte[] payload = new byte[length];
        if (!client.ReceiveExactly(payload, deadline))
        {
            refusal = Silent(deadline, timeoutMs);
            return null;
        }

        if (!SessionHello.TryParse(payload, out SessionHello hello, out string error))
        {
            refusal = $"its first frame is not a session hello: {error}";
            return null;
        }

        refusal = string.Empty;
        return hello;
    }

    private static string Silent(long deadline, int timeoutMs) => Stopwatch.GetTimestamp() >= deadline
        ? $"it sent no whole hello within {timeoutMs} ms"
        : "it closed the connection before its hello was whole";
}
