using System;
using System.Text.Json;

namespace DapperIpc.Sessions;

/// <summary>
/// The first frame of a subprocess launcher on a shared endpoint (docs/protocol.md):
/// {"event": "dapper/sessionHello", "body": {"sessionId": "...", "parentSessionId": "...", "pid": N}}.
/// A pure parser with no I/O, so it can be fuzzed on its own: whatever the bytes, TryParse
/// returns true with a hello or false with a reason, and never throws.
/// </summary>
public sealed class SessionHello
{
    public const string EventName = "dapper/sessionHello";

    private SessionHello(string sessionId, string? parentSessionId, long? pid, byte[] payload)
    {
        SessionId = sessionId;
        ParentSessionId = parentSessionId;
        Pid = pid;
        Payload = payload;
    }

    /// <summary>body.sessionId: never empty.</summary>
    public string SessionId { get; }

    /// <summary>body.parentSessionId, when given as a string.</summary>
    public string? ParentSessionId { get; }

    /// <summary>body.pid, when given as an integer.</summary>
    public long? Pid { get; }

    /// <summary>The frame's payload as received: what the host is handed.</summary>
    public byte[] Payload { get; }

    /// <summary>
    /// Parses a hello payload: a JSON object whose "event" is "dapper/sessionHello" and whose
    /// "body" object has a non-empty string "sessionId"; "parentSessionId" (a string or null)
    /// and "pid" (an integer or null) are optional; other members are ignored. A member given
    /// twice, a wrong type, bytes after the object or invalid JSON or UTF-8 refuse it.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out SessionHello hello, out string error)
    {
        hello = null!;
        try
        {
            error = Parse(payload, out string? sessionId, out string? parent, out long? pid)!;
            if (error is not null)
            {
                return false;
            }

            hello = new SessionHello(sessionId!, parent, pid, payload.ToArray());
            return true;
        }
        catch (JsonException e)
        {
            error = $"the hello is not valid JSON: {e.Message}";
            return false;
        }
        catch (InvalidOperationException e)
        {
            // A string that is not valid UTF-8 (GetString), a number out of range.
            error = $"the hello is not valid JSON: {e.Message}";
            return false;
        }
    }

    private static string? Parse(ReadOnlySpan<byte> payload, out string? sessionId, out string? parent, out long? pid)
    {
        sessionId = null;
        parent = null;
        pid = null;
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 64 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return "the hello is not a JSON object";
        }

        bool sawEvent = false, sawBody = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("event"u8))
            {
                if (sawEvent)
                {
                    return "\"event\" is given twice";
                }

                sawEvent = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals(EventName))
                {
                    return $"\"event\" is not \"{EventName}\"";
                }
            }
            else if (reader.ValueTextEquals("body"u8))
            {
                if (sawBody)
                {
                    return "\"body\" is given twice";
                }

                sawBody = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return "\"body\" is not an object";
                }

                string? bodyError = ParseBody(ref reader, ref sessionId, ref parent, ref pid);
                if (bodyError is not null)
                {
                    return bodyError;
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
        {
            return "the hello is not a JSON object";
        }

        // Nothing may follow the object (Read throws on trailing bytes; whitespace is fine).
        if (reader.Read())
        {
            return "bytes follow the hello's JSON object";
        }

        if (!sawEvent)
        {
            return $"the first frame has no \"event\": it is not a {EventName}";
        }

        if (!sawBody)
        {
            return "the hello has no \"body\"";
        }

        if (sessionId is null)
        {
            return "the hello's body has no \"sessionId\"";
        }

        return sessionId.Length == 0 ? "the hello's \"sessionId\" is empty" : null;
    }

    private static string? ParseBody(ref Utf8JsonReader reader, ref string? sessionId, ref string? parent, ref long? pid)
    {
        bool sawId = false, sawParent = false, sawPid = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("sessionId"u8))
            {
                if (sawId)
                {
                    return "\"sessionId\" is given twice";
                }

                sawId = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    return "\"sessionId\" is not a string";
                }

                sessionId = reader.GetString();
            }
            else if (reader.ValueTextEquals("parentSessionId"u8))
            {
                if (sawParent)
                {
                    return "\"parentSessionId\" is given twice";
                }

                sawParent = true;
                reader.Read();
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                {
                    return "\"parentSessionId\" is not a string";
                }

                parent = reader.TokenType == JsonTokenType.Null ? null : reader.GetString();
            }
            else if (reader.ValueTextEquals("pid"u8))
            {
                if (sawPid)
                {
                    return "\"pid\" is given twice";
                }

                sawPid = true;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value))
                {
                    return "\"pid\" is not an integer";
                }

                pid = value;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return null;
    }
}
