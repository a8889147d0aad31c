using System;

namespace DapperIpc.Framing;

/// <summary>Receives the frames a <see cref="FrameReader"/> parses, on the reading thread.</summary>
public interface IFrameHandler
{
    /// <summary>
    /// One whole frame. <paramref name="payload"/> points into the reader's buffer and
    /// is valid only during the call. Return false to stop reading.
    /// </summary>
    bool OnFrame(byte kind, ReadOnlySpan<byte> payload);
}
