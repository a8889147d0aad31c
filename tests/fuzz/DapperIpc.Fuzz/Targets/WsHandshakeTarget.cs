using System;
using System.Text;
using DapperIpc.Transports.Ws;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Transports/Ws/WsHandshake.cs, both sides: the listener's check of an upgrade request and
/// the client's check of the answer. Input: a byte choosing the policy (bit 0: a token is
/// required; bit 1: ws_origins lists https://ide.example.com; bit 2: the listener's host is
/// ::1 instead of 127.0.0.1), then the peer's bytes.
/// </summary>
internal static class WsHandshakeTarget
{
    private const string Token = "3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9";
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    public static void Run(ReadOnlySpan<byte> data)
    {
        byte mode = data.IsEmpty ? (byte)0 : data[0];
        ReadOnlySpan<byte> sent = data.IsEmpty ? [] : data[1..];
        var policy = new WsPolicy((mode & 4) != 0 ? "::1" : "127.0.0.1",
            WsPolicy.ParseOrigins((mode & 2) != 0 ? "https://ide.example.com, " : null), (mode & 1) != 0 ? Token : null);

        int head = WsHandshake.HeadLength(sent);
        Invariant.Check(head == 0 || Encoding.Latin1.GetString(sent[..head]).EndsWith("\r\n\r\n", StringComparison.Ordinal),
            "the head found does not end with an empty line");
        if (head > 0 && head <= WsHandshake.MaxHeadSize)
        {
            WsHandshakeResult answer;
            try
            {
                answer = WsHandshake.Answer(sent[..head], policy);
            }
            catch (Exception e)
            {
                throw new InvariantViolation($"the request check threw {e.GetType().Name}: {e.Message}; a refusal is an HTTP status");
            }

            string request = Encoding.Latin1.GetString(sent[..head]);
            Invariant.Check(answer.Status is 101 or 400 or 401 or 403 or 404 or 405 or 426, $"an undocumented status {answer.Status}");
            Invariant.Check(answer.Accepted == (answer.Refusal is null), "a refusal without a reason, or a reason with an upgrade");
            Invariant.Check(policy.AuthToken is null || !answer.Response.Contains(Token, StringComparison.Ordinal),
                "the answer echoes the token");
            Invariant.Check(answer.Response.EndsWith("\r\n\r\n", StringComparison.Ordinal) || !answer.Accepted,
                "the 101 answer's head is not terminated");
            if (answer.Accepted)
            {
                Invariant.Check(request.StartsWith("GET / HTTP/1.", StringComparison.Ordinal), "an upgrade for something but a GET of /");
                Invariant.Check(request.Contains(WsHandshake.Subprotocol, StringComparison.Ordinal), "an upgrade without dapper.dp.v1 offered");
                Invariant.Check(policy.AuthToken is null || request.Contains(WsHandshake.TokenPrefix + Token, StringComparison.Ordinal),
                    "an upgrade without the required token");
                Invariant.Check(answer.Response.Contains("Sec-WebSocket-Protocol: dapper.dp.v1\r\n", StringComparison.Ordinal),
                    "the 101 answer does not select dapper.dp.v1");
                Invariant.Check(answer.Origin is null || WsHandshake.OriginAllowed(answer.Origin, policy), "an origin not allowed was upgraded");
                string? origin = answer.Origin?.ToLowerInvariant();
                Invariant.Check(origin is null || origin.StartsWith("https://ide.example.com", StringComparison.Ordinal)
                                || Host(origin) is "localhost" or "127.0.0.1" or "[::1]" || (policy.ListenerHost == "::1" && Host(origin) == "[::1]"),
                    $"origin '{answer.Origin}' was allowed: neither loopback, the listener's host nor listed");
            }
        }

        // The client's side: any answer is checked without an exception.
        try
        {
            string? problem = WsHandshake.CheckResponse(sent.Length > WsHandshake.MaxHeadSize ? sent[..WsHandshake.MaxHeadSize] : sent, Key);
            Invariant.Check(problem is null || problem.Length > 0, "an answer refused with an empty reason");
        }
        catch (Exception e)
        {
            throw new InvariantViolation($"the answer check threw {e.GetType().Name}: {e.Message}");
        }
    }

    private static string Host(string origin)
    {
        int start = origin.IndexOf("://", StringComparison.Ordinal) + 3;
        string rest = origin[start..];
        if (rest.StartsWith('['))
        {
            return rest[..(rest.IndexOf(']') + 1)];
        }

        int colon = rest.IndexOf(':');
        return colon < 0 ? rest : rest[..colon];
    }
}
