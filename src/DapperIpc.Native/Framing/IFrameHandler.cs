using System;

namespace DapperIpc.Framing;

/// <summary>Receives the frames a <see cref="FrameReader"/> parses, on the reading thread.</summary>
public interface IFrameHandler
{
    /// <summary>
    /// The whole frames of one read, in order (at most <see cref="FrameReader.BatchSize"/>
    /// per call). Their payloads point into the reader's buffer and are valid only during
    /// the call. Return false to stop reading; the frames of this call count as taken
    /// either way.
    /// </summary>
    bool OnFrames(ReadOnlySpan<NativeFrame> frames);
}
