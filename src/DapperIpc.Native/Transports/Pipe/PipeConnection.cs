using System;
using System.Buffers;
using System.IO;
using System.IO.Pipes;
using System.Runtime.Versioning;
using System.Threading;
using DapperIpc.Transports.Platform;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Pipe;

/// <summary>
/// A connection over a named pipe. Every frame, header and payload, goes out in one Write,
/// so on a message-mode pipe it is exactly one message, as the Python launcher's
/// recv_bytes() expects. Reads treat the pipe as a byte stream: a message longer than the
/// read (ERROR_MORE_DATA, which .NET reports as a partial read) continues in the next
/// read and the frame reader reassembles it.
/// On Windows the I/O is <see cref="WindowsPipeIo"/>: overlapped calls waited for on the
/// reader's and senders' own threads, never on the thread pool, and cancelled by Close.
/// Elsewhere (.NET's pipes over unix sockets, which only the managed tests use) the stream
/// is asynchronous so that Close can cancel a blocked read.
/// </summary>
internal sealed class PipeConnection : ConnectionBase
{
    private readonly PipeStream? _stream;
    private readonly WindowsPipeIo? _windows;
    private readonly int _sendTimeoutMs;
    private readonly CancellationTokenSource _closing = new();
    private readonly byte[] _readBuffer = new byte[64 * 1024];

    public PipeConnection(PipeStream stream, ConnectionOptions options, string description) : base(options.MaxPayload)
    {
        _stream = stream;
        Description = description;
    }

    [SupportedOSPlatform("windows")]
    public PipeConnection(WindowsPipeIo pipe, ConnectionOptions options, string description) : base(options.MaxPayload)
    {
        _windows = pipe;
        _sendTimeoutMs = options.SendTimeoutMs;
        Description = description;
    }

    public override string Description { get; }

    public override int Receive(Span<byte> buffer)
    {
        if (_windows is not null && OperatingSystem.IsWindows())
        {
            return _windows.Read(buffer);
        }

        try
        {
            int want = Math.Min(buffer.Length, _readBuffer.Length);
            var pending = _stream!.ReadAsync(_readBuffer.AsMemory(0, want), _closing.Token);
            int n = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
            _readBuffer.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
        catch (IOException)
        {
            // A broken pipe: the peer is gone, which the reader reports like end-of-file.
            return 0;
        }
    }

    public override bool ReceiveExactly(Span<byte> buffer, long deadline)
    {
        if (_windows is null || !OperatingSystem.IsWindows())
        {
            return base.ReceiveExactly(buffer, deadline);
        }

        try
        {
            // A message longer than what is asked for stays in the pipe (ERROR_MORE_DATA):
            // nothing past the buffer is read.
            int got = 0;
            while (got < buffer.Length)
            {
                long left = (deadline - System.Diagnostics.Stopwatch.GetTimestamp()) * 1000 / System.Diagnostics.Stopwatch.Frequency;
                if (left <= 0)
                {
                    return false;
                }

                int n = _windows.Read(buffer[got..], (int)Math.Min(left, int.MaxValue));
                if (n <= 0)
                {
                    return false;
                }

                got += n;
            }

            return true;
        }
        catch (IpcException)
        {
            return false;
        }
    }

    public override int? PeerProcessId => _windows is not null && OperatingSystem.IsWindows() ? _windows.ClientProcessId : null;

    protected override void WriteFrames(ReadOnlySpan<NativeFrame> frames)
    {
        for (int i = 0; i < frames.Length; i++)
        {
            try
            {
                WriteMessage((byte)frames[i].Kind, frames[i].PayloadSpan);
            }
            catch (IpcException e)
            {
                throw e.AfterFrames(i);
            }
        }
    }

    private void WriteMessage(byte kind, ReadOnlySpan<byte> payload)
    {
        // One message per frame: the header and payload must leave in a single write.
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        FrameHeader.Write(header, kind, (uint)payload.Length);
        if (_windows is not null && OperatingSystem.IsWindows() && payload.IsEmpty)
        {
            _windows.Write(header, _sendTimeoutMs, Description);
            return;
        }

        int total = header.Length + payload.Length;
        byte[] joined = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            header.CopyTo(joined);
            payload.CopyTo(joined.AsSpan(header.Length));
            if (_windows is not null && OperatingSystem.IsWindows())
            {
                _windows.Write(joined.AsSpan(0, total), _sendTimeoutMs, Description);
                return;
            }

            _stream!.Write(joined, 0, total);
            _stream.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            throw new IpcException(IpcStatus.Closed, $"the pipe {Description} is closed: {e.Message}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    // A pipe has no half-close: Close already shut both ways, and closing keeps what the
    // peer has not read yet (it stays in the pipe until the peer's handle closes).
    protected override bool CanStopReceiving => true;

    protected override void ShutdownCore()
    {
        // Cancel a blocked read, and close the handle so the peer sees end-of-file now.
        if (_windows is not null && OperatingSystem.IsWindows())
        {
            _windows.Shutdown();
            return;
        }

        _closing.Cancel();
        _stream!.Dispose();
    }

    protected override void DisposeCore()
    {
        if (_windows is not null && OperatingSystem.IsWindows())
        {
            _windows.Dispose();
        }

        _closing.Dispose();
    }
}
