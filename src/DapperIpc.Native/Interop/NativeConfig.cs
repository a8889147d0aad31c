using System;
using System.Runtime.InteropServices;
using System.Text;
using DapperIpc.Factory;
using DapperIpc.Framing;

namespace DapperIpc.Interop;

/// <summary>Reading dapper_ipc_config; its fields and layout sizes are generated from the header (Generated/Abi.g.cs).</summary>
public unsafe partial struct NativeConfig
{
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
        if (config->StructSize >= SizeThroughAuthToken)
        {
            result.SendTimeoutMs = config->SendTimeoutMs == 0 ? TransportConfig.DefaultSendTimeoutMs : config->SendTimeoutMs;
            result.RequireAuth = (config->Flags & (uint)ConfigFlags.RequireAuth) != 0;
            result.AuthToken = Utf8(config->AuthToken, "config->auth_token");
        }

        if (config->StructSize >= SizeThroughClientWaitMs)
        {
            result.ClientWaitMs = config->ClientWaitMs == 0 ? TransportConfig.DefaultClientWaitMs : config->ClientWaitMs;
        }

        if (config->StructSize >= SizeThroughHeartbeatMs)
        {
            result.HeartbeatMs = config->HeartbeatMs;
        }

        if (config->StructSize >= SizeThroughWsOrigins)
        {
            result.WsOrigins = Utf8(config->WsOrigins, "config->ws_origins");
        }

        if (config->StructSize >= SizeThroughAuthToken)
        {
            result.Reconnect = (config->Flags & (uint)ConfigFlags.Reconnect) != 0;
            result.AllowTls12 = (config->Flags & (uint)ConfigFlags.AllowTls12) != 0;
        }

        if (config->StructSize >= SizeThroughResumeBufferBytes)
        {
            result.ReconnectTimeoutMs = config->ReconnectTimeoutMs == 0 ? TransportConfig.DefaultReconnectTimeoutMs : config->ReconnectTimeoutMs;
            result.ResumeBufferBytes = config->ResumeBufferBytes == 0 ? TransportConfig.DefaultResumeBufferBytes : config->ResumeBufferBytes;
        }

        if (config->StructSize >= SizeThroughShmSpinUs)
        {
            result.ShmRingBytes = config->ShmRingBytes == 0 ? Transports.Shm.ShmLayout.DefaultRingBytes : config->ShmRingBytes;
            result.ShmSpinUs = config->ShmSpinUs == 0 ? Transports.Shm.ShmLayout.DefaultSpinUs : config->ShmSpinUs;
        }

        if (config->StructSize >= SizeThroughTlsFingerprint)
        {
            result.TlsCertFile = Utf8(config->TlsCertFile, "config->tls_cert_file");
            result.TlsKeyFile = Utf8(config->TlsKeyFile, "config->tls_key_file");
            result.TlsFingerprint = Utf8(config->TlsFingerprint, "config->tls_fingerprint");
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
}
