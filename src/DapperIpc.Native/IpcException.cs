using System;

namespace DapperIpc;

/// <summary>
/// The one exception type the core throws on purpose. The interop layer turns it
/// into its <see cref="Status"/> and last-error message; anything else reaching
/// the boundary is reported as <see cref="IpcStatus.Internal"/>.
/// </summary>
public sealed class IpcException : Exception
{
    public IpcException(IpcStatus status, string message) : base(message) => Status = status;

    public IpcException(IpcStatus status, string message, Exception inner) : base(message, inner) => Status = status;

    public IpcStatus Status { get; }

    /// <summary>The failure left the stream unusable (part of a frame went out); the connection must close.</summary>
    public bool StreamCut { get; init; }

    /// <summary>For a failed send: how many of its frames went out whole before it failed (send_batch reports it).</summary>
    public int FramesSent { get; init; }

    /// <summary>This failure of a send, after <paramref name="framesSent"/> of its frames went out whole.</summary>
    public IpcException AfterFrames(int framesSent) => framesSent == FramesSent
        ? this
        : new IpcException(Status, Message, this) { StreamCut = StreamCut, OutOfDescriptors = OutOfDescriptors, FramesSent = framesSent };

    /// <summary>The process ran out of file descriptors (EMFILE/ENFILE): no other transport would fare better.</summary>
    public bool OutOfDescriptors { get; init; }
}
