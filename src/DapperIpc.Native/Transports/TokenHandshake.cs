using System;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DapperIpc.Framing;

namespace DapperIpc.Transports;

/// <summary>
/// Opt-in authentication: a client's first frame is a kind 1 event
/// {"event": "dapper/auth", "token": "..."}; the listener compares the token in
/// constant time before the connection counts. Anyone on the machine can reach a
/// loopback port; only a process that was handed the token can pass.
/// </summary>
internal static class TokenHandshake
{
    public const string EventName = "dapper/auth";

    // The auth frame is small; a longer one is refused unread.
    private const int MaxAuthPayload = 1024;
    public const int ReadTimeoutMs = 5000;

    public static string NewToken() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static void Present(ConnectionBase connection, string token)
    {
        byte[] payload = Encoding.UTF8.GetBytes($"{{\"event\": \"{EventName}\", \"token\": \"{token}\"}}");
        connection.SendHandshake(FrameKind.Event, payload);
    }

    /// <summary>Fills the buffer or returns false (end of stream, or not all of it by the deadline, a Stopwatch timestamp).</summary>
    internal delegate bool ExactReceive(Span<byte> buffer, long deadline);

    /// <summary>Reads exactly the first frame (nothing after it), all of it within <paramref name="timeoutMs"/>, and checks its token. Returns the reason for a refusal, or null.</summary>
    public static string? Verify(ConnectionBase connection, string expected, int timeoutMs)
        => Verify(connection.ReceiveExactly, expected, timeoutMs);

    /// <summary>
    /// A listener's check of a client's token: null when <paramref name="expected"/> is null (no
    /// token required) or the token matched, else the reason, a failure to read it included.
    /// </summary>
    public static string? Refusal(ConnectionBase connection, string? expected, int timeoutMs)
    {
        if (expected is null)
        {
            return null;
        }

        try
        {
            return Verify(connection, expected, timeoutMs);
        }
        catch (IpcException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// <see cref="Verify(ConnectionBase, string, int)"/> over any exact receive: the seam the
    /// fuzz target (tests/fuzz) feeds scripted bytes through, without a socket.
    /// </summary>
    internal static string? Verify(ExactReceive receiveExactly, string expected, int timeoutMs)
    {
        long deadline = ConnectionBase.Deadline(timeoutMs);
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        if (!receiveExactly(header, deadline))
        {
            return "it sent no auth frame";
        }

        (byte kind, uint length) = FrameHeader.Parse(header, MaxAuthPayload);
        byte[] payload = new byte[length];
        if (kind != FrameKind.Event || !receiveExactly(payload, deadline))
        {
            return "its first frame is not an auth event";
        }

        byte[]? token = ReadToken(payload);
        if (token is null)
        {
            return "its first frame carries no token";
        }

        return CryptographicOperations.FixedTimeEquals(token, Encoding.UTF8.GetBytes(expected)) ? null : "its token is wrong";
    }

    private static byte[]? ReadToken(byte[] payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            bool isAuth = false;
            byte[]? token = null;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isEvent = reader.ValueTextEquals("event"u8);
                bool isToken = reader.ValueTextEquals("token"u8);
                reader.Read();
                if (isEvent && reader.TokenType == JsonTokenType.String)
                {
                    isAuth = reader.ValueTextEquals(EventName);
                }
                else if (isToken && reader.TokenType == JsonTokenType.String)
                {
                    token = Encoding.UTF8.GetBytes(reader.GetString()!);
                }
                else
                {
                    reader.Skip();
                }
            }

            return isAuth ? token : null;
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            // GetString on a token that is not UTF-8 (the reader checks JSON structure, not
            // the bytes inside strings): a token that cannot be the listener's. It used to
            // escape the accept loop (found by tests/fuzz, target token-handshake).
            return null;
        }
    }
}
