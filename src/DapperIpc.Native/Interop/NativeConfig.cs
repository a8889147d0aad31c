using System.Runtime.InteropServices;
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

    /// <summary>Reads a caller's config (NULL: every default) into a TransportConfig.</summary>
    public static TransportConfig Read(NativeConfig* config)
    {
        var result = new TransportConfig();
        if (config == null)
        {
            return result;
        }

        if (config->StructSize < sizeof(NativeConfig))
        {
            throw new IpcException(IpcStatus.InvalidArgument, config->StructSize == 0
                ? "config->struct_size is 0: initialise the config with dapper_ipc_config_init"
                : $"config->struct_size is {config->StructSize}, smaller than this library's dapper_ipc_config ({sizeof(NativeConfig)})");
        }

        result.Transport = Utf8(config->Transport) ?? "auto";
        result.Host = Utf8(config->Host);
        result.Path = Utf8(config->Path);
        result.PipeName = Utf8(config->PipeName);
        result.Port = config->Port;
        result.MaxFrameSize = config->MaxFrameSize == 0 ? FrameHeader.DefaultMaxPayload : config->MaxFrameSize;
        result.ConnectTimeoutMs = config->ConnectTimeoutMs == 0 ? TransportConfig.DefaultConnectTimeoutMs : config->ConnectTimeoutMs;
        return result;
    }

    private static string? Utf8(byte* s) => s == null ? null : Marshal.PtrToStringUTF8((nint)s);
}
