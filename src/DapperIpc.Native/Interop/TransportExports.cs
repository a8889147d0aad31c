using System;
using System.Runtime.InteropServices;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;
using DapperIpc.Transports;
using DapperIpc.Transports.Adopted;
using DapperIpc.Transports.Plugin;

namespace DapperIpc.Interop;

/// <summary>The C ABI of transports the host brings: dapper_ipc_adopt and dapper_ipc_register_transport.</summary>
internal static unsafe class TransportExports
{
    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_adopt")]
    public static int Adopt(ManagerHandle handle, nint readHandle, nint writeHandle, uint flags)
    {
        bool owned = (flags & (uint)AdoptFlags.Borrow) == 0;
        bool handedOver = false;
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if ((flags & ~(uint)AdoptFlags.Borrow) != 0)
            {
                throw new IpcException(IpcStatus.InvalidArgument, $"unknown adopt flag bits 0x{flags & ~(uint)AdoptFlags.Borrow:x}");
            }

            manager.AdoptConnection(() =>
            {
                handedOver = true; // from here the connection, or its failure, closes owned handles
                return Adopter.Adopt(readHandle, writeHandle, owned,
                    new ConnectionOptions(FrameHeader.DefaultMaxPayload, TransportConfig.DefaultSendTimeoutMs, null));
            });
            return LastError.Ok();
        }
        catch (Exception e)
        {
            if (owned && !handedOver && !OperatingSystem.IsWindows())
            {
                // The promise: an owned handle is closed whatever adopt returns.
                Adopter.CloseOwned(readHandle, writeHandle);
            }

            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_register_transport")]
    public static int RegisterTransport(byte* name, NativeTransportOps* ops, void* user)
    {
        try
        {
            if (name == null || ops == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, name == null ? "name is NULL" : "ops is NULL");
            }

            PluginTransport.Register(NativeConfig.Utf8(name, "name")!, ops, user);
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }
}
