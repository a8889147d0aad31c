using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Interop;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Interop/NativeConfig.cs: a dapper_ipc_config built in unmanaged memory, as a C caller of
/// any header version would. Input: struct_size (a byte below 12 picks <see cref="Sizes"/>,
/// else the next 4 bytes), max_frame_size, port, connect/send timeouts, flags, client_wait
/// (4 bytes each, big-endian), five bytes choosing transport, host, path, pipe_name and
/// auth_token (0: NULL, n: the n-th string), then the strings, NUL-separated. Whatever lies
/// beyond struct_size is poison that must never show in the result.
/// </summary>
internal static unsafe class NativeConfigTarget
{
    private static int End(string field) => (int)Marshal.OffsetOf<NativeConfig>(field) + (field is "AuthToken" ? sizeof(byte*) : 4);

    /// <summary>The sizes of every layout so far, and one byte either side.</summary>
    internal static readonly uint[] Sizes =
    [
        0, (uint)NativeConfig.BaseSize - 1, (uint)NativeConfig.BaseSize, (uint)NativeConfig.BaseSize + 1,
        (uint)End("AuthToken") - 1, (uint)End("AuthToken"), (uint)End("AuthToken") + 1,
        (uint)End("ClientWaitMs") - 1, (uint)End("ClientWaitMs"), (uint)sizeof(NativeConfig), (uint)sizeof(NativeConfig) + 1, 4096,
    ];

    private const int Poison = 0x5EED_F00D;
    private static readonly byte[] PoisonToken = "poison: read beyond struct_size\0"u8.ToArray();
    private static readonly string[] StringFields = ["transport", "host", "path", "pipe_name", "auth_token"];

    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        byte sizeChoice = input.Byte();
        uint structSize = sizeChoice < Sizes.Length ? Sizes[sizeChoice] : input.UInt32();
        uint maxFrame = input.UInt32();
        int port = (int)input.UInt32(), connectTimeout = (int)input.UInt32(), sendTimeout = (int)input.UInt32();
        uint flags = input.UInt32();
        int clientWait = (int)input.UInt32();
        var choices = input.Take(5).ToArray();
        var strings = Split(input.Rest);

        byte[]?[] values = new byte[]?[5];
        for (int i = 0; i < 5; i++)
        {
            int choice = i < choices.Length ? choices[i] : 0;
            values[i] = choice == 0 || strings.Count == 0 ? null : strings[(choice - 1) % strings.Count];
        }

        var pinned = new List<GCHandle>();
        NativeConfig* config = (NativeConfig*)NativeMemory.Alloc((nuint)sizeof(NativeConfig));
        try
        {
            fixed (byte* poison = PoisonToken)
            {
                byte* String(int i)
                {
                    if (values[i] is not { } v)
                    {
                        return null;
                    }

                    var handle = GCHandle.Alloc(Terminated(v), GCHandleType.Pinned);
                    pinned.Add(handle);
                    return (byte*)handle.AddrOfPinnedObject();
                }

                // Every field the caller's layout covers is the caller's; the rest is poison.
                *config = new NativeConfig
                {
                    StructSize = structSize,
                    MaxFrameSize = maxFrame,
                    Transport = String(0),
                    Host = String(1),
                    Path = String(2),
                    PipeName = String(3),
                    Port = port,
                    ConnectTimeoutMs = connectTimeout,
                    SendTimeoutMs = structSize >= End("SendTimeoutMs") ? sendTimeout : Poison,
                    Flags = structSize >= End("Flags") ? flags : 1,
                    AuthToken = structSize >= End("AuthToken") ? String(4) : poison,
                    ClientWaitMs = structSize >= End("ClientWaitMs") ? clientWait : Poison,
                };

                Check(config, structSize, values, maxFrame, port, connectTimeout, sendTimeout, flags, clientWait);
            }
        }
        finally
        {
            NativeMemory.Free(config);
            foreach (var handle in pinned)
            {
                handle.Free();
            }
        }
    }

    private static void Check(NativeConfig* config, uint structSize, byte[]?[] values, uint maxFrame, int port,
        int connectTimeout, int sendTimeout, uint flags, int clientWait)
    {
        TransportConfig result;
        try
        {
            result = NativeConfig.Read(config);
        }
        catch (Exception e)
        {
            var refusal = Invariant.Refusal(e, IpcStatus.InvalidArgument);
            if (structSize < NativeConfig.BaseSize)
            {
                Invariant.Check(refusal.Message.Contains("struct_size", StringComparison.Ordinal), "a too-small config is refused without naming struct_size");
                return;
            }

            int bad = FirstInvalidField(values, structSize);
            Invariant.Check(bad >= 0, $"a config with valid UTF-8 strings was refused: {refusal.Message}");
            Invariant.Check(refusal.Message.Contains($"config->{StringFields[bad]} ", StringComparison.Ordinal),
                $"the refusal does not name the first invalid field ({StringFields[bad]}): {refusal.Message}");
            Invariant.Check(refusal.Message.Contains($"offset {FirstInvalidOffset(values[bad]!)} ", StringComparison.Ordinal),
                $"the refusal names another offset than the first invalid byte's ({FirstInvalidOffset(values[bad]!)}): {refusal.Message}");
            return;
        }

        Invariant.Check(structSize >= NativeConfig.BaseSize, $"a config with struct_size {structSize} was read (smaller than any layout)");
        Invariant.Check(FirstInvalidField(values, structSize) < 0, "a string that is not UTF-8 was accepted");
        Invariant.Check(result.Transport == (Decode(values[0]) ?? "auto"), "transport differs from the caller's");
        Invariant.Check(result.Host == Decode(values[1]) && result.Path == Decode(values[2]) && result.PipeName == Decode(values[3]),
            "host, path or pipe_name differs from the caller's");
        Invariant.Check(result.Port == port, "port differs from the caller's");
        Invariant.Check(result.MaxFrameSize == (maxFrame == 0 ? FrameHeader.DefaultMaxPayload : maxFrame), "max_frame_size differs");
        Invariant.Check(result.ConnectTimeoutMs == (connectTimeout == 0 ? TransportConfig.DefaultConnectTimeoutMs : connectTimeout), "connect_timeout_ms differs");

        bool hasAuth = structSize >= End("AuthToken");
        Invariant.Check(result.SendTimeoutMs == (!hasAuth || sendTimeout == 0 ? TransportConfig.DefaultSendTimeoutMs : sendTimeout),
            $"send_timeout_ms is {result.SendTimeoutMs} for struct_size {structSize} (read beyond the caller's struct?)");
        Invariant.Check(result.RequireAuth == (hasAuth && (flags & 1) != 0), $"require_auth is {result.RequireAuth} for struct_size {structSize}");
        Invariant.Check(result.AuthToken == (hasAuth ? Decode(values[4]) : null), $"auth_token differs for struct_size {structSize}");
        bool hasWait = structSize >= End("ClientWaitMs");
        Invariant.Check(result.ClientWaitMs == (!hasWait || clientWait == 0 ? TransportConfig.DefaultClientWaitMs : clientWait),
            $"client_wait_ms is {result.ClientWaitMs} for struct_size {structSize} (read beyond the caller's struct?)");
    }

    /// <summary>The first string field (in the order the reader takes them) that is not UTF-8, or -1.</summary>
    private static int FirstInvalidField(byte[]?[] values, uint structSize)
    {
        for (int i = 0; i < 5; i++)
        {
            if (i == 4 && structSize < End("AuthToken"))
            {
                break;
            }

            if (values[i] is { } v && !System.Text.Unicode.Utf8.IsValid(v))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The longest valid prefix: where the first invalid sequence starts.</summary>
    private static int FirstInvalidOffset(byte[] value)
    {
        int n = value.Length;
        while (n > 0 && !System.Text.Unicode.Utf8.IsValid(value.AsSpan(0, n)))
        {
            n--;
        }

        return n;
    }

    /// <summary>The NUL-separated strings of <paramref name="rest"/> (none when it is empty).</summary>
    internal static List<byte[]> Split(ReadOnlySpan<byte> rest)
    {
        var parts = new List<byte[]>();
        while (!rest.IsEmpty)
        {
            int nul = rest.IndexOf((byte)0);
            parts.Add((nul < 0 ? rest : rest[..nul]).ToArray());
            rest = nul < 0 ? [] : rest[(nul + 1)..];
        }

        return parts;
    }

    private static string? Decode(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value);

    private static byte[] Terminated(byte[] value)
    {
        var terminated = new byte[value.Length + 1];
        value.CopyTo(terminated, 0);
        return terminated;
    }
}
