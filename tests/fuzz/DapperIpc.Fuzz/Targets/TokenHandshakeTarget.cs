using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json;
using DapperIpc.Transports;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Transports/TokenHandshake.cs, the listener's check of a client's first frame. Input: a
/// byte choosing the listener's token from <see cref="Tokens"/>, then what the client sends.
/// </summary>
internal static class TokenHandshakeTarget
{
    private const int MaxAuthPayload = 1024; // docs/protocol.md: the auth frame's limit

    internal static readonly string[] Tokens =
    [
        "3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1", // NewToken's shape
        "t",
        "t\u00f8ken \"quoted\" \\ \u2603",
        "",
    ];

    public static void Run(ReadOnlySpan<byte> data)
    {
        string expected = Tokens[data.IsEmpty ? 0 : data[0] % Tokens.Length];
        byte[] sent = data.IsEmpty ? [] : data[1..].ToArray();
        int consumed = 0;
        bool Receive(Span<byte> buffer, long deadline)
        {
            long left = deadline - Stopwatch.GetTimestamp();
            Invariant.Check(left > 0 && left <= 60 * Stopwatch.Frequency, "the handshake reads without a bounded time limit: a silent client would hold the accept loop");
            int n = Math.Min(buffer.Length, sent.Length - consumed);
            sent.AsSpan(consumed, n).CopyTo(buffer);
            consumed += n;
            return n == buffer.Length;
        }

        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        string? refusal;
        try
        {
            refusal = TokenHandshake.Verify(Receive, expected, TokenHandshake.ReadTimeoutMs);
            Invariant.Check(refusal is null || refusal.Length > 0, "a refusal carries an empty reason");
        }
        catch (Exception e)
        {
            Invariant.Refusal(e, IpcStatus.Protocol, IpcStatus.FrameTooLarge);
            refusal = e.Message;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Invariant.Check(allocated < 64 * 1024, $"the handshake allocated {allocated} bytes for a first frame of at most {MaxAuthPayload}");

        // Never past the first frame: what follows belongs to the connection's reader.
        long frameEnd = 8;
        if (sent.Length >= 8 && sent[0] == 'D' && sent[1] == 'P' && sent[2] == 1)
        {
            frameEnd += BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(4));
        }

        Invariant.Check(consumed <= frameEnd, $"the handshake read {consumed} bytes, past the first frame's end ({frameEnd})");

        if (refusal is null)
        {
            Invariant.Check(Admissible(sent, expected), "a client was let in without a whole auth event carrying the listener's token");
        }
    }

    /// <summary>Whether the first frame is a whole kind 1 frame whose JSON object says event dapper/auth and carries the token.</summary>
    private static bool Admissible(byte[] sent, string expected)
    {
        if (sent.Length < 8 || sent[0] != 'D' || sent[1] != 'P' || sent[2] != 1 || sent[3] != 1)
        {
            return false;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(4));
        if (length > MaxAuthPayload || sent.Length - 8 < length)
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(sent.AsSpan(8, (int)length));
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            bool isAuth = false, hasToken = false;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                isAuth |= property.NameEquals("event") && property.Value.ValueKind == JsonValueKind.String && property.Value.ValueEquals(TokenHandshake.EventName);
                hasToken |= property.NameEquals("token") && property.Value.ValueKind == JsonValueKind.String && property.Value.ValueEquals(expected);
            }

            return isAuth && hasToken;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
