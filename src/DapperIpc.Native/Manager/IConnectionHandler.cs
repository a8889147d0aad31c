using System;
using DapperIpc.Framing;

namespace DapperIpc.Manager;

/// <summary>What the host gives the manager to hear from its reader thread.</summary>
public interface IConnectionHandler
{
    /// <summary>One frame; <paramref name="payload"/> is valid only during the call. Runs on the reader thread.</summary>
    void OnMessage(byte kind, ReadOnlySpan<byte> payload);

    /// <summary>The connection started, or ended without the host asking. Runs on the reader thread.</summary>
    void OnConnectionEvent(ConnectionEvent connectionEvent, IpcStatus status, string reason);
}

/// <summary>A handler that takes the frames of one read in one call (dapper_ipc_set_batch_callback).</summary>
public interface IConnectionBatchHandler : IConnectionHandler
{
    /// <summary>Whole frames in order; their payloads are valid only during the call. Runs on the reader thread.</summary>
    void OnMessages(ReadOnlySpan<NativeFrame> frames);
}
