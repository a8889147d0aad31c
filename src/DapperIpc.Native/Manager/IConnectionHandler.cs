using System;
using DapperIpc.Framing;

namespace DapperIpc.Manager;

/// <summary>What the host gives the manager to hear from its reader thread.</summary>
public interface IConnectionHandler
{
    /// <summary>
    /// True: frames come one per <see cref="OnMessages"/> call, so a cleanup stops the
    /// delivery between any two (dapper_ipc_set_callback's promise). False: the frames of
    /// one read come in one call (dapper_ipc_set_batch_callback), for hosts that pay more
    /// per call than per frame.
    /// </summary>
    bool OneFramePerCall { get; }

    /// <summary>Whole frames in order; their payloads are valid only during the call. Runs on the reader thread.</summary>
    void OnMessages(ReadOnlySpan<NativeFrame> frames);

    /// <summary>The connection started, or ended without the host asking. Runs on the reader thread.</summary>
    void OnConnectionEvent(ConnectionEvent connectionEvent, IpcStatus status, string reason);
}
