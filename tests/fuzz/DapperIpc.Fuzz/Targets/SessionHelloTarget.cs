using System;
using System.Text.Json;
using DapperIpc.Sessions;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Sessions/SessionHello.cs (the subprocess launcher's first frame): the whole input is the
/// payload. TryParse promises never to throw; what it accepts is checked against a
/// JsonDocument reading of the same bytes.
/// </summary>
internal static class SessionHelloTarget
{
    public static void Run(ReadOnlySpan<byte> payload)
    {
        bool accepted;
        SessionHello hello;
        string error;
        try
        {
            accepted = SessionHello.TryParse(payload, out hello, out error);
        }
        catch (Exception e)
        {
            throw new InvariantViolation($"TryParse threw {e.GetType().Name} (it promises true or false with a reason): {e.Message}");
        }

        if (!accepted)
        {
            Invariant.Check(!string.IsNullOrWhiteSpace(error), "a refused hello carries no reason");
            return;
        }

        Invariant.Check(hello is not null && payload.SequenceEqual(hello.Payload), "the accepted hello does not hand on the payload as received");
        Invariant.Check(hello!.SessionId.Length > 0, "a hello with an empty sessionId was accepted");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvariantViolation($"a payload that is not one JSON value was accepted: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            Invariant.Check(root.ValueKind == JsonValueKind.Object, "a hello that is not a JSON object was accepted");
            Invariant.Check(Only(root, "event") is { ValueKind: JsonValueKind.String } e && e.ValueEquals(SessionHello.EventName),
                "accepted without exactly one \"event\": \"dapper/sessionHello\"");
            Invariant.Check(Only(root, "body") is { ValueKind: JsonValueKind.Object } b && Matches(b, hello),
                "the accepted hello's fields are not the body's");
        }
    }

    /// <summary>The member named <paramref name="name"/> when it is given exactly once.</summary>
    private static JsonElement? Only(JsonElement obj, string name)
    {
        JsonElement? found = null;
        foreach (var property in obj.EnumerateObject())
        {
            if (property.NameEquals(name))
            {
                if (found is not null)
                {
                    return null;
                }

                found = property.Value;
            }
        }

        return found;
    }

    private static bool Matches(JsonElement body, SessionHello hello)
    {
        bool idMatches = Only(body, "sessionId") is { ValueKind: JsonValueKind.String } id && id.ValueEquals(hello.SessionId);
        bool parentMatches = Only(body, "parentSessionId") switch
        {
            null => hello.ParentSessionId is null && !Given(body, "parentSessionId"),
            { ValueKind: JsonValueKind.Null } => hello.ParentSessionId is null,
            { ValueKind: JsonValueKind.String } p => hello.ParentSessionId is not null && p.ValueEquals(hello.ParentSessionId),
            _ => false,
        };
        bool pidMatches = Only(body, "pid") switch
        {
            null => hello.Pid is null && !Given(body, "pid"),
            { ValueKind: JsonValueKind.Null } => hello.Pid is null,
            { ValueKind: JsonValueKind.Number } n => n.TryGetInt64(out long pid) && hello.Pid == pid,
            _ => false,
        };
        return idMatches && parentMatches && pidMatches;
    }

    private static bool Given(JsonElement obj, string name)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (property.NameEquals(name))
            {
                return true;
            }
        }

        return false;
    }
}
