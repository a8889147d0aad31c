using System;
using System.Runtime.InteropServices;
using System.Text;
using DapperIpc.Diagnostics;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Interop;

/// <summary>The host's dapper_ipc_message_cb and dapper_ipc_state_cb, called straight from the reader thread.</summary>
internal sealed unsafe class NativeCallbacks(
    delegate* unmanaged<void*, int, byte*, nuint, void> onMessage,
    delegate* unmanaged<void*, int, int, byte*, void> onState,
    void* userData) : IConnectionHandler
{
    public void OnMessage(byte kind, ReadOnlySpan<byte> payload)
    {
        if (onMessage == null)
        {
            return;
        }

        // The buffer's address even for an empty payload, so hosts never see NULL.
        fixed (byte* p = &MemoryMarshal.GetReference(payload))
        {
            onMessage(userData, kind, p, (nuint)payload.Length);
        }
    }

    public void OnConnectionEvent(ConnectionEvent connectionEvent, IpcStatus status, string reason)
    {
        if (onState == null)
        {
            return;
        }

        fixed (byte* text = NativeText.Utf8Z(reason))
        {
            onState(userData, (int)connectionEvent, (int)status, text);
        }
    }
}

/// <summary>The host's dapper_ipc_batch_cb and dapper_ipc_state_cb: the frames of one read in one call.</summary>
internal sealed unsafe class NativeBatchCallbacks(
    delegate* unmanaged<void*, NativeFrame*, nuint, void> onBatch,
    delegate* unmanaged<void*, int, int, byte*, void> onState,
    void* userData) : IConnectionBatchHandler
{
    private readonly NativeCallbacks _state = new(null, onState, userData);

    public void OnMessages(ReadOnlySpan<NativeFrame> frames)
    {
        if (onBatch == null)
        {
            return;
        }

        fixed (NativeFrame* f = frames)
        {
            onBatch(userData, f, (nuint)frames.Length);
        }
    }

    public void OnMessage(byte kind, ReadOnlySpan<byte> payload)
    {
        fixed (byte* p = &MemoryMarshal.GetReference(payload))
        {
            NativeFrame frame = new(kind, p, (nuint)payload.Length);
            OnMessages(new ReadOnlySpan<NativeFrame>(ref frame));
        }
    }

    public void OnConnectionEvent(ConnectionEvent connectionEvent, IpcStatus status, string reason)
        => _state.OnConnectionEvent(connectionEvent, status, reason);
}

/// <summary>The host's dapper_ipc_log_cb.</summary>
internal sealed unsafe class NativeLogSink(delegate* unmanaged<void*, int, byte*, void> callback, void* userData) : ILogSink
{
    public void Write(LogLevel level, string message)
    {
        fixed (byte* text = NativeText.Utf8Z(message))
        {
            callback(userData, (int)level, text);
        }
    }
}

internal static class NativeText
{
    /// <summary>UTF-8 with a terminating NUL (messages only; never on the frame path).</summary>
    public static byte[] Utf8Z(string s)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
