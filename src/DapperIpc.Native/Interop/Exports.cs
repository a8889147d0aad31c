using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using DapperIpc.Diagnostics;
using DapperIpc.Framing;
using DapperIpc.Manager;
using DapperIpc.Transports;

namespace DapperIpc.Interop;

/// <summary>
/// The C ABI (include/dapper_ipc.h). An exception escaping an UnmanagedCallersOnly
/// method kills the host, so every export catches everything and returns a status,
/// leaving the message for dapper_ipc_last_error.
/// </summary>
internal static unsafe class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_version")]
    public static byte* Version() => StaticStrings.Version;

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_status_string")]
    public static byte* StatusString(int status) => StaticStrings.ForStatus(status);

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_last_error")]
    public static int GetLastError(byte* buf, nuint cap, nuint* needed)
    {
        try
        {
            // Reads the last error without touching it, so no LastError.Ok/Fail here.
            if (buf == null && cap > 0)
            {
                return (int)IpcStatus.InvalidArgument;
            }

            return (int)OutputBuffer.Copy(NativeText.Utf8Z(LastError.Message), buf, cap, needed, out _, "the message");
        }
        catch (Exception)
        {
            return (int)IpcStatus.Internal;
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_set_log_callback")]
    public static int SetLogCallback(delegate* unmanaged<void*, int, byte*, void> callback, void* userData, int minLevel)
    {
        try
        {
            if (minLevel is < (int)LogLevel.Debug or > (int)LogLevel.Error)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, $"log level {minLevel} is not between DEBUG (0) and ERROR (3)");
            }

            Log.SetSink(callback == null ? null : new NativeLogSink(callback, userData), (LogLevel)minLevel);
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_config_init")]
    public static int ConfigInit(NativeConfig* config, nuint size)
    {
        try
        {
            if (config == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "config is NULL");
            }

            if (size < (nuint)NativeConfig.BaseSize)
            {
                return LastError.Fail(IpcStatus.InvalidArgument,
                    $"size {size} is smaller than any dapper_ipc_config ({NativeConfig.BaseSize}); pass sizeof(dapper_ipc_config)");
            }

            // Never past what the caller's struct holds: it may be an older, smaller layout.
            uint known = (uint)Math.Min(size, (nuint)sizeof(NativeConfig));
            new Span<byte>(config, (int)known).Clear();
            config->StructSize = known;
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_manager_create")]
    public static int ManagerCreate(ManagerHandle* handle)
    {
        try
        {
            if (handle == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "out (the handle to fill) is NULL");
            }

            *handle = HandleTable.Add(new IPCManager());
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_manager_destroy")]
    public static int ManagerDestroy(ManagerHandle handle)
    {
        try
        {
            HandleTable.Remove(handle).Cleanup();
            return LastError.Unchanged();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    /// <summary>dapper_ipc_set_callback: the name hosts use (dapper_ipc_set_callbacks, the 0.1.0 name, is its alias).</summary>
    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_set_callback")]
    public static int SetCallback(ManagerHandle handle,
        delegate* unmanaged<void*, int, byte*, nuint, void> onMessage,
        delegate* unmanaged<void*, int, int, byte*, void> onState,
        void* userData)
        => SetCallbacksCore(handle, onMessage, onState, userData);

    /// <summary>dapper_ipc_set_callbacks: the 0.1 name, kept as an alias for hosts built against it.</summary>
    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_set_callbacks")]
    public static int SetCallbacks(ManagerHandle handle,
        delegate* unmanaged<void*, int, byte*, nuint, void> onMessage,
        delegate* unmanaged<void*, int, int, byte*, void> onState,
        void* userData)
        => SetCallbacksCore(handle, onMessage, onState, userData);

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_set_batch_callback")]
    public static int SetBatchCallback(ManagerHandle handle,
        delegate* unmanaged<void*, NativeFrame*, nuint, void> onBatch,
        delegate* unmanaged<void*, int, int, byte*, void> onState,
        void* userData)
    {
        try
        {
            HandleTable.Get(handle).SetHandler(onBatch == null && onState == null
                ? null
                : new NativeCallbacks(null, onBatch, onState, userData));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    private static int SetCallbacksCore(ManagerHandle handle,
        delegate* unmanaged<void*, int, byte*, nuint, void> onMessage,
        delegate* unmanaged<void*, int, int, byte*, void> onState,
        void* userData)
    {
        try
        {
            HandleTable.Get(handle).SetHandler(onMessage == null && onState == null
                ? null
                : new NativeCallbacks(onMessage, null, onState, userData));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_create_listener")]
    public static int CreateListener(ManagerHandle handle, NativeConfig* config)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            manager.CreateListener(NativeConfig.Read(config));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_launcher_args")]
    public static int LauncherArgs(ManagerHandle handle, byte* buf, nuint cap, nuint* length, int* argc)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            return CopyLauncherArgs(manager.LauncherArgs, buf, cap, length, argc);
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    /// <summary>dapper_ipc_launcher_args' copy, for a manager's listener and a session listener alike.</summary>
    internal static int CopyLauncherArgs(IReadOnlyList<string> args, byte* buf, nuint cap, nuint* length, int* argc)
    {
        if (argc != null)
        {
            *argc = args.Count;
        }

        IpcStatus status = OutputBuffer.Copy(OutputBuffer.Terminated(args), buf, cap, length, out string? tooSmall,
            "the launcher arguments");
        return tooSmall is null ? LastError.Ok() : LastError.Fail(status, tooSmall);
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_auth_token")]
    public static int AuthToken(ManagerHandle handle, byte* buf, nuint cap, nuint* length)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            return CopyText(manager.AuthToken, buf, cap, length, "the token");
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_tls_fingerprint")]
    public static int TlsFingerprint(ManagerHandle handle, byte* buf, nuint cap, nuint* length)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            return CopyText(manager.TlsFingerprint, buf, cap, length, "the fingerprint");
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    /// <summary>A string result copied NUL-terminated into the caller's buffer (the auth tokens, the tls fingerprint).</summary>
    internal static int CopyText(string text, byte* buf, nuint cap, nuint* length, string what)
    {
        IpcStatus status = OutputBuffer.Copy(NativeText.Utf8Z(text), buf, cap, length, out string? tooSmall, what);
        return tooSmall is null ? LastError.Ok() : LastError.Fail(status, tooSmall);
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_connect")]
    public static int Connect(ManagerHandle handle, NativeConfig* config)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            manager.Connect(NativeConfig.Read(config));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_connect_argv")]
    public static int ConnectArgv(ManagerHandle handle, int argc, byte** argv)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            manager.Connect(LauncherArgv.Parse(argc, argv));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_wait_for_client")]
    public static int WaitForClient(ManagerHandle handle, int timeoutMs)
    {
        try
        {
            HandleTable.Get(handle).WaitForClient(timeoutMs);
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_start_reader")]
    public static int StartReader(ManagerHandle handle)
    {
        try
        {
            HandleTable.Get(handle).StartReader();
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_send")]
    public static int Send(ManagerHandle handle, int kind, byte* payload, nuint length)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            SendChecks.Frame(kind, payload, length);
            if (length > int.MaxValue)
            {
                return LastError.Fail(IpcStatus.FrameTooLarge, $"a payload of {length} bytes is larger than any frame");
            }

            manager.Send((byte)kind, new ReadOnlySpan<byte>(payload, (int)length));
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_send_batch")]
    public static int SendBatch(ManagerHandle handle, NativeFrame* frames, nuint count, nuint* framesSent)
    {
        int sent = 0;
        try
        {
            if (framesSent != null)
            {
                *framesSent = 0;
            }

            IPCManager manager = HandleTable.Get(handle);
            if (frames == null && count != 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "frames is NULL but count is not 0");
            }

            if (count > int.MaxValue)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, $"count {count} is more frames than one call can send");
            }

            manager.SendFrames(new ReadOnlySpan<NativeFrame>(frames, (int)count));
            sent = (int)count;
            return LastError.Ok();
        }
        catch (IpcException e)
        {
            sent = e.FramesSent;
            return LastError.Fail(e);
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
        finally
        {
            if (framesSent != null)
            {
                *framesSent = (nuint)sent;
            }
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_recv")]
    public static int Recv(ManagerHandle handle, byte* buf, nuint cap, nuint* length, int* kind, int timeoutMs)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            if (length == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "length is NULL");
            }

            ReceivedFrame frame = default;
            IpcStatus status = manager.Recv(new Span<byte>(buf, (int)Math.Min(cap, (nuint)int.MaxValue)),
                new Span<ReceivedFrame>(ref frame), out _, timeoutMs);
            switch (status)
            {
                case IpcStatus.Ok:
                case IpcStatus.BufferTooSmall:
                    *length = (nuint)frame.Length;
                    if (kind != null)
                    {
                        *kind = frame.Kind;
                    }

                    return status == IpcStatus.Ok ? LastError.Ok() : LastError.Fail(IpcStatus.BufferTooSmall,
                        "the next frame is larger than the buffer: *length is its size; it stays for the next call");
                default:
                    *length = 0;
                    return NoFrame(status, timeoutMs);
            }
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_recv_batch")]
    public static int RecvBatch(ManagerHandle handle, byte* buf, nuint cap, NativeFrame* frames, nuint maxFrames,
        nuint* count, int timeoutMs)
    {
        try
        {
            if (count != null)
            {
                *count = 0;
            }

            IPCManager manager = HandleTable.Get(handle);
            if (buf == null && cap > 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "buf is NULL but cap is not 0");
            }

            if (frames == null || maxFrames == 0)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "frames is NULL or max_frames is 0: there is nowhere to describe a frame");
            }

            if (count == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "count is NULL");
            }

            // The offsets are collected on the stack, then written as the header's frames:
            // no allocation, whatever max_frames is.
            int slots = (int)Math.Min(maxFrames, (nuint)MaxFramesPerRecv);
            Span<ReceivedFrame> taken = stackalloc ReceivedFrame[slots];
            IpcStatus status = manager.Recv(new Span<byte>(buf, (int)Math.Min(cap, (nuint)int.MaxValue)), taken,
                out int n, timeoutMs);
            switch (status)
            {
                case IpcStatus.Ok:
                    for (int i = 0; i < n; i++)
                    {
                        frames[i] = new NativeFrame(taken[i].Kind, buf + taken[i].Offset, (nuint)taken[i].Length);
                    }

                    *count = (nuint)n;
                    return LastError.Ok();
                case IpcStatus.BufferTooSmall:
                    frames[0] = new NativeFrame(taken[0].Kind, null, (nuint)taken[0].Length);
                    return LastError.Fail(IpcStatus.BufferTooSmall,
                        "the next frame is larger than the buffer: frames[0].length is its size; it stays for the next call");
                default:
                    return NoFrame(status, timeoutMs);
            }
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    // One recv_batch call describes at most this many frames (a larger max_frames is not an
    // error): a whole 64 KiB read of frames of 64 bytes or more (header included) in one call,
    // with the slots (12 bytes each) on the stack.
    private const int MaxFramesPerRecv = 1024;

    private static int NoFrame(IpcStatus status, int timeoutMs) => LastError.Fail(status, timeoutMs == 0
        ? "no whole frame is ready (timeout 0)"
        : "no whole frame arrived within the timeout");

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_readable_handle")]
    public static int ReadableHandle(ManagerHandle handle, nint* readable)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (readable == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "handle (the output) is NULL");
            }

            *readable = manager.ReadableHandle();
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_cleanup")]
    public static int Cleanup(ManagerHandle handle)
    {
        try
        {
            HandleTable.Get(handle).Cleanup();
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_abort")]
    public static int Abort(ManagerHandle handle)
    {
        try
        {
            HandleTable.Get(handle).Abort();
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_is_connected")]
    public static int IsConnected(ManagerHandle handle, int* connected)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (connected == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "connected is NULL");
            }

            *connected = manager.IsConnected ? 1 : 0;
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "dapper_ipc_get_stats")]
    public static int GetStats(ManagerHandle handle, NativeStats* stats)
    {
        try
        {
            IPCManager manager = HandleTable.Get(handle);
            if (stats == null)
            {
                return LastError.Fail(IpcStatus.InvalidArgument, "out is NULL");
            }

            if (stats->StructSize < NativeStats.MinSize)
            {
                return LastError.Fail(IpcStatus.InvalidArgument,
                    $"out->struct_size is {stats->StructSize}: set it to sizeof(dapper_ipc_stats) (at least {NativeStats.MinSize})");
            }

            NativeStats.Write(stats, manager.GetStats());
            return LastError.Ok();
        }
        catch (Exception e)
        {
            return LastError.Fail(e);
        }
    }
}
