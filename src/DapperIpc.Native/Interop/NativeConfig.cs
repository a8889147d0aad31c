using System;
using System.Runtime.InteropServices;
using System.Text;
using DapperIpc.Factory;
using DapperIpc.Framing;

namespace DapperIpc.Interop;

/// <summary>dapper_ipc_config, field for field.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct NativeConfig
{
    public uint StructSize;
    public uint MaxFrameSize;
    public byte* Transport;
    public byte* Host;
    public byte* Path;
    public byte* PipeName;
    public int Port;
    public int ConnectTimeoutMs;

    // Added after the first layout: read only when struct_size covers them.
    public int SendTimeoutMs;
    public uint Flags;
    public byte* AuthToken;

    // Added after auth_token with the send that waits for its client: read only when struct_size covers it.
    public int ClientWaitMs;

    private const uint FlagRequireAuth = 1;

    /// <summary>The size of the first layout (through connect_timeout_ms).</summary>
    internal static int BaseSize
    {
        get
        {
            NativeConfig c = default;
            return (int)((byte*)&c.SendTimeoutMs - (byte*)&c);
        }
    }

    /// <summary>Reads a caller's config (NULL: every default) into a TransportConfig.</summary>
    public static TransportConfig Read(NativeConfig* config)
    {
        var result = new TransportConfig();
        if (config == null)
        {
            return result;
        }

        if (config->StructSize < BaseSize)
        {
            throw new IpcException(IpcStatus.InvalidArgument, config->StructSize == 0
                ? "config->struct_size is 0: initialise the config with dapper_ipc_config_init"
                : $"config->struct_size is {config->StructSize}, smaller than any dapper_ipc_config ({BaseSize})");
        }

        result.Transport = Utf8(config->Transport, "config->transport") ?? "auto";
        result.Host = Utf8(config->Host, "config->host");
        result.Path = Utf8(config->Path, "config->path");
        result.PipeName = Utf8(config->PipeName, "config->pipe_name");
        result.Port = config->Port;
        result.MaxFrameSize = config->MaxFrameSize == 0 ? FrameHeader.DefaultMaxPayload : config->MaxFrameSize;
        result.ConnectTimeoutMs = config->ConnectTimeoutMs == 0 ? TransportConfig.DefaultConnectTimeoutMs : config->ConnectTimeoutMs;
        if (config->StructSize >= EndOf(config, &config->AuthToken, sizeof(byte*)))
        {
            result.SendTimeoutMs = config->SendTimeoutMs == 0 ? TransportConfig.DefaultSendTimeoutMs : config->SendTimeoutMs;
            result.RequireAuth = (config->Flags & FlagRequireAuth) != 0;
            result.AuthToken = Utf8(config->AuthToken, "config->auth_token");
        }

        if (config->StructSize >= EndOf(config, &config->ClientWaitMs, sizeof(int)))
        {
            result.ClientWaitMs = config->ClientWaitMs == 0 ? TransportConfig.DefaultClientWaitMs : config->ClientWaitMs;
        }

        return result;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// A NUL-terminated string of the config (or another argument: <paramref name="field"/>
    /// names it), decoded strictly: invalid UTF-8 is refused (a lenient decode would turn it
    /// into U+FFFD and, for a path, bind somewhere else).
    /// </summary>
    internal static string? Utf8(byte* s, string field)
    {
        if (s == null)
        {
            return null;
        }

        var bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(s);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"{field} is not valid UTF-8 (the byte at offset {FirstInvalid(bytes)} is not); strings passed in must be UTF-8");
        }
    }

    private static int FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        System.Buffers.OperationStatus status = System.Text.Unicode.Utf8.ToUtf16(bytes, new char[bytes.Length], out int read, out _, replaceInvalidSequences: false);
        return status == System.Buffers.OperationStatus.Done ? 0 : read;
    }

    /// <summary>The struct size that covers <paramref name="field"/> (its offset plus its size).</summary>
    private static uint EndOf(NativeConfig* config, void* field, int size)
        => (uint)((byte*)field - (byte*)config + size);
}
