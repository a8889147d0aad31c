using System;

namespace DapperIpc.Framing;

/// <summary>
/// A handler that takes the whole frames of one read in one call, for hosts that pay per
/// call more than per frame (a foreign-function interface, a hop to an event loop).
/// </summary>
public interface IFrameBatchHandler : IFrameHandler
{
    /// <summary>
    /// Frames in order; their payloads point into the reader's buffer and are valid only
    /// during the call. Return false to stop reading.
    /// </summary>
    bool OnFrames(ReadOnlySpan<NativeFrame> frames);
}
