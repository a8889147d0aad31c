using System;
using System.Text;
using DapperIpc.Diagnostics;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Interop;

/// <summary>
/// The host's callbacks, called straight from the reader thread: dapper_ipc_message_cb (one
/// frame per call) or dapper_ipc_batch_cb (the frames of one read in one call), and
/// dapper_ipc_state_cb.
/// </summary>
internal sealed unsafe class NativeCallbacks(
    delegate* unmanaged<void*, int, byte*, nuint, void> onMessage,
    delegate* unmanaged<void*, NativeFrame*, nuint, void> onBatch,
    delegate* unmanaged<void*, int, int, byte*, void> onState,
    void* userData) : IConnectionHandler
{
    public bool OneFramePerCall => onBatch == null;

    public void OnMessages(ReadOnlySpan<NativeFrame> frames)
    {
        if (onBatch != null)
        {
            fixed (NativeFrame* f = frames)
            {
                onBatch(userData, f, (nuint)frames.Length);
            }

            return;
        }

        if (onMessage == null)
        {
            return;
        }

        foreach (ref readonly NativeFrame frame in frames)
        {
            // Payload is the buffer's address even for an empty payload: hosts never see NULL.
            onMessage(userData, frame.Kind, frame.Payload, frame.Length);
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
