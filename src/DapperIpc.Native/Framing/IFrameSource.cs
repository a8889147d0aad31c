using System;

namespace DapperIpc.Framing;

/// <summary>The byte stream a <see cref="FrameReader"/> reads from (a transport's connection).</summary>
public interface IFrameSource
{
    /// <summary>Blocks until at least one byte is read into <paramref name="buffer"/>, or returns 0 at end of stream. Throws IpcException.</summary>
    int Receive(Span<byte> buffer);
}
