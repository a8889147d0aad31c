using System;
using System.Runtime.InteropServices;
using DapperIpc.Manager;
using DapperIpc.Sessions;

namespace DapperIpc.Interop;

/// <summary>
/// The C ABI of session listeners (include/dapper_ipc.h, "session listeners"): the same
/// rules as <see cref="Exports"/>, every export catching everything and returning a status.
/// </summary>
internal static unsafe class SessionExports
{
    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_create")]
    public static int Create(SessionListenerHandle* handle)
    {
        try
        {
            if (handle == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "out (the handle to fill) is NULL");
            }

            *handle = HandleTable.Add(new SessionListener());
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_destroy")]
    public static int Destroy(SessionListenerHandle handle)
    {
        try
        {
            HandleTable.Remove(handle).Dispose();
            return LastError.Unchanged();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_set_hello_limits")]
    public static int SetHelloLimits(SessionListenerHandle handle, int timeoutMs, uint maxSize)
    {
        try
        {
            HandleTable.Get(handle).SetHelloLimits(
                timeoutMs == 0 ? SessionListener.DefaultHelloTimeoutMs : timeoutMs,
                maxSize == 0 ? SessionListener.DefaultMaxHelloSize : maxSize);
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_set_offer_callback")]
    public static int SetOfferCallback(SessionListenerHandle handle,
        delegate* unmanaged<void*, byte*, byte*, nuint, int> offer, void* userData)
    {
        try
        {
            HandleTable.Get(handle).SetOffer(offer == null ? null : new NativeOffer(offer, userData).Decide);
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_listen")]
    public static int Listen(SessionListenerHandle handle, NativeConfig* config)
    {
        try
        {
            HandleTable.Get(handle).Listen(NativeConfig.Read(config));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_launcher_args")]
    public static int LauncherArgs(SessionListenerHandle handle, byte* buf, nuint cap, nuint* length, int* argc)
    {
        try
        {
            SessionListener listener = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            return Exports.CopyLauncherArgs(listener.LauncherArgs, buf, cap, length, argc);
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_auth_token")]
    public static int AuthToken(SessionListenerHandle handle, byte* buf, nuint cap, nuint* length)
    {
        try
        {
            SessionListener listener = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            return Exports.CopyText(listener.AuthToken, buf, cap, length, "the token");
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_expect")]
    public static int Expect(SessionListenerHandle handle, byte* sessionId)
    {
        try
        {
            HandleTable.Get(handle).Expect(SessionId(sessionId));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_listener_accept")]
    public static int Accept(SessionListenerHandle handle, byte* sessionId, int timeoutMs, ManagerHandle* manager)
    {
        try
        {
            SessionListener listener = HandleTable.Get(handle);
            if (manager == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "manager (the handle to fill) is NULL");
            }

            *manager = default;
            IPCManager accepted = listener.Accept(SessionId(sessionId), timeoutMs);
            *manager = HandleTable.Add(accepted);
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_session_hello")]
    public static int Hello(ManagerHandle handle, byte* buf, nuint cap, nuint* length)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            byte[] hello = manager.Hello ?? throw new IpcException(IpcStatus.InvalidState,
                "the manager was not made by dapper_ipc_session_listener_accept: it has no hello");
            byte[] text = new byte[hello.Length + 1];
            hello.CopyTo(text, 0);
            IpcStatus status = OutputBuffer.Copy(text, buf, cap, length, out string? tooSmall, "the hello");
            return tooSmall is null ? LastError.Ok() : LastError.Fail(status, tooSmall);
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    private static string SessionId(byte* sessionId)
        => NativeConfig.Utf8(sessionId, "session_id") ?? throw new IpcException(IpcStatus.InvalidArgument, "session_id is NULL");

    /// <summary>The host's dapper_ipc_session_offer_cb, called on the thread that read the hello.</summary>
    private sealed class NativeOffer(delegate* unmanaged<void*, byte*, byte*, nuint, int> offer, void* userData)
    {
        public bool Decide(SessionHello hello)
        {
            fixed (byte* id = NativeText.Utf8Z(hello.SessionId))
            fixed (byte* payload = hello.Payload)
            {
                return offer(userData, id, payload, (nuint)hello.Payload.Length) != 0;
            }
        }
    }
}
