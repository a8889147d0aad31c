using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;

namespace DapperIpc.Transports.Ws;

/// <summary>What a listener checks a websocket upgrade request against.</summary>
/// <param name="ListenerHost">The host the listener bound (an origin with this host is allowed).</param>
/// <param name="AllowedOrigins">ws_origins: further origins allowed, as given (scheme://host[:port]).</param>
/// <param name="AuthToken">The token a client must offer as the subprotocol dapper.token.&lt;token&gt;; null: none needed.</param>
internal sealed record WsPolicy(string ListenerHost, IReadOnlyList<string> AllowedOrigins, string? AuthToken)
{
    /// <summary>ws_origins as configured: comma-separated, blanks ignored, a trailing slash dropped.</summary>
    public static IReadOnlyList<string> ParseOrigins(string? list)
    {
        var origins = new List<string>();
        foreach (string part in (list ?? "").Split(','))
        {
            string origin = part.Trim().TrimEnd('/');
            if (origin.Length > 0)
            {
                origins.Add(origin);
            }
        }

        return origins;
    }
}

/// <summary>A checked upgrade request: either the 101 answer, or a refusal with its HTTP status.</summary>
internal readonly record struct WsHandshakeResult(int Status, string Response, string? Refusal, string? Origin)
{
    public bool Accepted => Status == 101;
}

/// <summary>
/// The RFC 6455 opening handshake, both sides, over bytes (no socket: the fuzz target
/// feeds it directly). A listener answers a request with 101 only when it is a GET for
/// "/" over HTTP/1.1 with Host, Upgrade: websocket, Connection: upgrade, a 16-byte
/// Sec-WebSocket-Key and version 13, offers the subprotocol dapper.dp.v1 (and, when the
/// listener requires it, dapper.token.&lt;token&gt;), and comes from an allowed origin or
/// from no origin at all (a native client). Refusals: 400 malformed, 404 another path,
/// 405 not GET, 426 another version, 403 origin, 401 token.
/// </summary>
internal static class WsHandshake
{
    public const string Subprotocol = "dapper.dp.v1";
    public const string TokenPrefix = "dapper.token.";

    /// <summary>The request or response head, through its empty line, is at most this long.</summary>
    public const int MaxHeadSize = 8 * 1024;

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>The length of the head (through CRLF CRLF) at the start of <paramref name="data"/>, or 0 when it is not all there yet.</summary>
    public static int HeadLength(ReadOnlySpan<byte> data)
    {
        int end = data.IndexOf("\r\n\r\n"u8);
        return end < 0 ? 0 : end + 4;
    }

    /// <summary>
    /// Checks a request head (through its empty line) and makes the answer. A refusal quotes
    /// what the client sent, and a client can put the token anywhere (in a bad version
    /// header, say): the answer and the log line never carry it, whatever quotes it.
    /// </summary>
    public static WsHandshakeResult Answer(ReadOnlySpan<byte> head, WsPolicy policy)
    {
        WsHandshakeResult answer = Check(head, policy);
        if (policy.AuthToken is { Length: > 0 } token && !answer.Accepted
            && answer.Response.Contains(token, StringComparison.Ordinal))
        {
            // As many stars as the token has characters: quoted text is printable ASCII, so the
            // body's Content-Length stays right.
            string hidden = new('*', token.Length);
            answer = answer with
            {
                Response = answer.Response.Replace(token, hidden, StringComparison.Ordinal),
                Refusal = answer.Refusal?.Replace(token, hidden, StringComparison.Ordinal),
            };
        }

        return answer;
    }

    private static WsHandshakeResult Check(ReadOnlySpan<byte> head, WsPolicy policy)
    {
        if (!TryParse(head, out string startLine, out List<(string Name, string Value)> headers, out string? malformed))
        {
            return Refuse(400, "Bad Request", malformed!, null);
        }

        string[] parts = startLine.Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || parts[2] == "HTTP/1.0")
        {
            return Refuse(400, "Bad Request", $"not an HTTP/1.1 request line: '{Printable(startLine)}'", null);
        }

        if (parts[0] != "GET")
        {
            return Refuse(405, "Method Not Allowed", $"method {Printable(parts[0])} (a websocket upgrade is a GET)", null);
        }

        string? origin = Single(headers, "Origin", out bool repeated);
        if (repeated)
        {
            return Refuse(400, "Bad Request", "more than one Origin header", null);
        }

        if (parts[1] != "/")
        {
            return Refuse(404, "Not Found", $"path '{Printable(parts[1])}' (the endpoint is '/')", origin);
        }

        if (Single(headers, "Host", out repeated) is null || repeated)
        {
            return Refuse(400, "Bad Request", "no Host header, or more than one", origin);
        }

        if (!HasToken(headers, "Upgrade", "websocket"))
        {
            return Refuse(400, "Bad Request", "no 'Upgrade: websocket' header", origin);
        }

        if (!HasToken(headers, "Connection", "upgrade"))
        {
            return Refuse(400, "Bad Request", "no 'Connection: Upgrade' header", origin);
        }

        string? version = Single(headers, "Sec-WebSocket-Version", out repeated);
        if (version != "13" || repeated)
        {
            return Refuse(426, "Upgrade Required", $"websocket version '{Printable(version ?? "none")}' (only 13 is spoken)", origin,
                "Sec-WebSocket-Version: 13\r\n");
        }

        string? key = Single(headers, "Sec-WebSocket-Key", out repeated);
        if (key is null || repeated || !IsKey(key))
        {
            return Refuse(400, "Bad Request", "no valid Sec-WebSocket-Key (base64 of 16 bytes)", origin);
        }

        if (origin is not null && !OriginAllowed(origin, policy))
        {
            return Refuse(403, "Forbidden", $"origin '{Printable(origin)}' is not allowed (loopback and the listener's host are; add others to ws_origins)", origin);
        }

        bool dp = false;
        bool tokenOk = policy.AuthToken is null;
        foreach (string protocol in Tokens(headers, "Sec-WebSocket-Protocol"))
        {
            if (protocol == Subprotocol)
            {
                dp = true;
            }
            else if (policy.AuthToken is not null && protocol.StartsWith(TokenPrefix, StringComparison.Ordinal))
            {
                tokenOk |= CryptographicOperations.FixedTimeEquals(
                    Encoding.UTF8.GetBytes(protocol.Substring(TokenPrefix.Length)), Encoding.UTF8.GetBytes(policy.AuthToken));
            }
        }

        if (!dp)
        {
            return Refuse(400, "Bad Request", $"the subprotocol {Subprotocol} is not offered (Sec-WebSocket-Protocol)", origin);
        }

        if (!tokenOk)
        {
            return Refuse(401, "Unauthorized", $"no valid {TokenPrefix}<token> subprotocol (the listener requires an auth token)", origin);
        }

        string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + $"Sec-WebSocket-Accept: {AcceptFor(key)}\r\nSec-WebSocket-Protocol: {Subprotocol}\r\n\r\n";
        return new WsHandshakeResult(101, response, null, origin);
    }

    /// <summary>Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC's GUID)).</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept; it proves the answer is a websocket server's, it protects nothing")]
    public static string AcceptFor(string key)
        => Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));

    /// <summary>A fresh Sec-WebSocket-Key.</summary>
    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    /// <summary>The client's request for "/" on <paramref name="hostHeader"/>, offering the token as a second subprotocol when there is one.</summary>
    public static string Request(string hostHeader, string key, string? token)
        => $"GET / HTTP/1.1\r\nHost: {hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           + $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           + $"Sec-WebSocket-Protocol: {Subprotocol}{(token is null ? "" : ", " + TokenPrefix + token)}\r\n\r\n";

    /// <summary>Checks the listener's answer to <see cref="Request"/>: null when it is the upgrade, else why not.</summary>
    public static string? CheckResponse(ReadOnlySpan<byte> head, string key)
    {
        if (!TryParse(head, out string statusLine, out List<(string Name, string Value)> headers, out string? malformed))
        {
            return "a malformed answer: " + malformed;
        }

        string[] parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return $"not an HTTP answer: '{Printable(statusLine)}'";
        }

        if (parts[1] != "101")
        {
            return $"the listener refused the upgrade: {Printable(statusLine)}";
        }

        if (!HasToken(headers, "Upgrade", "websocket") || !HasToken(headers, "Connection", "upgrade"))
        {
            return "the 101 answer lacks 'Upgrade: websocket' or 'Connection: Upgrade'";
        }

        if (Single(headers, "Sec-WebSocket-Accept", out bool repeated) != AcceptFor(key) || repeated)
        {
            return "the 101 answer's Sec-WebSocket-Accept does not match the key";
        }

        if (Single(headers, "Sec-WebSocket-Protocol", out repeated) != Subprotocol || repeated)
        {
            return $"the 101 answer does not select the subprotocol {Subprotocol}";
        }

        if (Single(headers, "Sec-WebSocket-Extensions", out _) is not null)
        {
            return "the 101 answer selects an extension nobody offered";
        }

        return null;
    }

    /// <summary>The status line of an answer and its body when short (for a refusal's message).</summary>
    public static bool TryParse(ReadOnlySpan<byte> head, out string startLine, out List<(string Name, string Value)> headers, out string? malformed)
    {
        startLine = "";
        headers = new List<(string, string)>();
        malformed = null;
        if (head.Length > MaxHeadSize)
        {
            malformed = $"the head is longer than {MaxHeadSize} bytes";
            return false;
        }

        // Latin-1: every byte is one char, nothing is "repaired"; tokens compared below are ASCII.
        string text = Encoding.Latin1.GetString(head);
        if (!text.EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            malformed = "the head does not end with an empty line";
            return false;
        }

        string[] lines = text.Substring(0, text.Length - 4).Split("\r\n");
        startLine = lines[0];
        if (startLine.Length == 0 || HasControl(startLine))
        {
            malformed = "an empty or binary first line";
            return false;
        }

        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            int colon = line.IndexOf(':');
            if (colon <= 0 || line[0] is ' ' or '\t' || HasControl(line) || line.AsSpan(0, colon).IndexOfAny(" \t") >= 0)
            {
                malformed = $"header line {i} is not 'Name: value'";
                return false;
            }

            if (headers.Count == 100)
            {
                malformed = "more than 100 header lines";
                return false;
            }

            headers.Add((line.Substring(0, colon), line.Substring(colon + 1).Trim(' ', '\t')));
        }

        return true;
    }

    private static bool HasControl(string line)
    {
        foreach (char c in line)
        {
            if ((c < 0x20 && c != '\t') || c == 0x7F)
            {
                return true;
            }
        }

        return false;
    }

    private static string? Single(List<(string Name, string Value)> headers, string name, out bool repeated)
    {
        string? value = null;
        repeated = false;
        foreach ((string n, string v) in headers)
        {
            if (n.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                repeated = value is not null;
                value ??= v;
            }
        }

        return value;
    }

    /// <summary>The comma-separated values of every header called <paramref name="name"/>, trimmed.</summary>
    private static IEnumerable<string> Tokens(List<(string Name, string Value)> headers, string name)
    {
        foreach ((string n, string v) in headers)
        {
            if (n.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                foreach (string token in v.Split(','))
                {
                    string t = token.Trim(' ', '\t');
                    if (t.Length > 0)
                    {
                        yield return t;
                    }
                }
            }
        }
    }

    private static bool HasToken(List<(string Name, string Value)> headers, string name, string token)
    {
        foreach (string t in Tokens(headers, name))
        {
            if (t.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsKey(string key)
    {
        Span<byte> decoded = stackalloc byte[18];
        return key.Length == 24 && Convert.TryFromBase64String(key, decoded, out int written) && written == 16;
    }

    /// <summary>
    /// An origin is allowed when its host is loopback by name (localhost, 127.0.0.1, [::1])
    /// or the listener's host, whatever its scheme and port, or when it is listed in
    /// ws_origins (compared case-insensitively, without a trailing slash).
    /// </summary>
    public static bool OriginAllowed(string origin, WsPolicy policy)
    {
        string trimmed = origin.TrimEnd('/');
        foreach (string allowed in policy.AllowedOrigins)
        {
            if (allowed.Equals(trimmed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        string? host = OriginHost(trimmed);
        if (host is null)
        {
            return false; // "null" (a file: page, a sandbox) and anything unparsable
        }

        return host is "localhost" or "127.0.0.1" or "::1"
               || host.Equals(policy.ListenerHost.Trim('[', ']'), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>scheme://host[:port] -> host (lower case, IPv6 without brackets), or null.</summary>
    private static string? OriginHost(string origin)
    {
        int scheme = origin.IndexOf("://", StringComparison.Ordinal);
        if (scheme <= 0)
        {
            return null;
        }

        string rest = origin.Substring(scheme + 3);
        if (rest.IndexOfAny(['/', '@', '?', '#']) >= 0)
        {
            return null;
        }

        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']');
            if (close < 0 || (close + 1 < rest.Length && rest[close + 1] != ':'))
            {
                return null;
            }

            return rest.Substring(1, close - 1).ToLowerInvariant();
        }

        int colon = rest.IndexOf(':');
        string host = colon < 0 ? rest : rest.Substring(0, colon);
        return host.Length == 0 ? null : host.ToLowerInvariant();
    }

    private static WsHandshakeResult Refuse(int status, string text, string reason, string? origin, string extraHeaders = "")
    {
        string body = reason + "\n";
        string response = $"HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\n{extraHeaders}"
            + $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
        return new WsHandshakeResult(status, response, reason, origin);
    }

    /// <summary>A client's text for a log line or a refusal: printable ASCII, at most 200 characters.</summary>
    public static string Printable(string s)
    {
        var b = new StringBuilder(Math.Min(s.Length, 200));
        foreach (char c in s)
        {
            if (b.Length == 200)
            {
                b.Append('…');
                break;
            }

            b.Append(c is >= ' ' and < (char)0x7F ? c : '?');
        }

        return b.ToString();
    }
}
