using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using DapperIpc.Framing;

namespace DapperIpc.Transports.Ws;

/// <summary>The byte stream under a websocket: the socket, or a fuzz target's script.</summary>
internal interface IWsWire
{
    /// <summary>Receives at most <c>buffer.Length</c> bytes, waiting at most <paramref name="timeoutMs"/> (negative: no limit): the count, 0 at end of stream, -1 when nothing came in time. Throws IpcException.</summary>
    int RawReceive(Span<byte> buffer, int timeoutMs);

    /// <summary>Sends a whole control frame without cutting into a data frame being sent; best effort (a pong or a close the peer may never read must not fail the reader).</summary>
    void SendControl(ReadOnlySpan<byte> frame);
}

/// <summary>
/// The receiving half of the websocket mapping (docs/protocol.md): turns the peer's frames
/// back into the DP v1 byte stream the FrameReader reads, with no allocation per frame.
/// Small frames come through a 16 KiB read-ahead buffer (one recv for many of them); the
/// rest of a large payload is received straight into the caller's buffer and unmasked in
/// place. Every message must be binary and hold exactly one DP frame, header included, of
/// at most max_frame_size + 8 bytes; control frames may come between fragments. A
/// violation sends the close code RFC 6455 names and throws E_PROTOCOL (E_FRAME_TOO_LARGE
/// for 1009); the peer's close is answered and reads as end of stream, its code and reason
/// kept for the disconnect reason. One reader thread; not thread-safe.
/// </summary>
internal sealed class WsReceiver
{
    private const int ReadAhead = 16 * 1024;

    private readonly IWsWire _wire;
    private readonly bool _isClient; // we are the client: the peer's frames come unmasked
    private readonly ulong _maxMessage;
    private readonly WsMaskKeys? _keys;
    private readonly byte[] _in = new byte[ReadAhead];
    private int _inStart;
    private int _inEnd;

    // The data frame being delivered.
    private ulong _payloadLeft;
    private uint _mask;
    private long _maskOffset;
    private bool _fin;

    // The message being delivered: the DP header's first bytes, to hold the message to one frame.
    private bool _inMessage;
    private ulong _messageGot;
    private ulong _messageAnnounced; // bytes of the message's frames announced so far
    private ulong _dpHead; // the DP header's bytes, big-endian as they came (8 of them)

    private bool _ended;
    private readonly object _closeGate = new();
    private bool _closeSent;

    public WsReceiver(IWsWire wire, bool isClient, uint maxPayload, ReadOnlySpan<byte> alreadyReceived, WsMaskKeys? keys)
    {
        _wire = wire;
        _isClient = isClient;
        _maxMessage = (ulong)maxPayload + FrameHeader.Size;
        _keys = keys;
        if (alreadyReceived.Length > _in.Length)
        {
            throw new ArgumentException("more read-ahead than the buffer holds", nameof(alreadyReceived));
        }

        alreadyReceived.CopyTo(_in);
        _inEnd = alreadyReceived.Length;
    }

    /// <summary>The peer's close ("websocket close 1001: going away"), once it came.</summary>
    public string? PeerClose { get; private set; }

    /// <summary>
    /// True when a receive would get somewhere on the read-ahead alone (payload bytes, or a
    /// whole frame header, and a control frame's payload): a poller of the socket must not
    /// wait then. False for a header still cut short, which only the socket can complete.
    /// </summary>
    public bool CanProgressWithoutReading
    {
        get
        {
            int buffered = _inEnd - _inStart;
            if (_ended || buffered == 0)
            {
                return false;
            }

            if (_payloadLeft > 0)
            {
                return true;
            }

            ReadOnlySpan<byte> b = _in.AsSpan(_inStart, buffered);
            if (b.Length < 2)
            {
                return false;
            }

            int length7 = b[1] & 0x7F;
            int needed = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + ((b[1] & 0x80) != 0 ? 4 : 0);
            if ((b[0] & 0x08) != 0 && length7 < 126)
            {
                needed += length7; // a control frame is handled whole
            }

            return b.Length >= needed;
        }
    }

    /// <summary>
    /// DP bytes into <paramref name="destination"/>: the count, 0 at the end (the peer's close,
    /// or its end of stream between messages), -1 when nothing came within
    /// <paramref name="timeoutMs"/> (negative: wait as long as it takes). Throws IpcException.
    /// </summary>
    public int Receive(Span<byte> destination, int timeoutMs)
    {
        if (_ended || destination.IsEmpty)
        {
            return 0;
        }

        long deadline = timeoutMs < 0 ? 0 : ConnectionBase.Deadline(timeoutMs);
        while (true)
        {
            if (_payloadLeft > 0)
            {
                int n = (int)Math.Min((ulong)destination.Length, _payloadLeft);
                if (_inEnd > _inStart)
                {
                    n = Math.Min(n, _inEnd - _inStart);
                    _in.AsSpan(_inStart, n).CopyTo(destination);
                    _inStart += n;
                }
                else
                {
                    n = _wire.RawReceive(destination.Slice(0, n), Remaining(timeoutMs, deadline));
                    if (n < 0)
                    {
                        return -1;
                    }

                    if (n == 0)
                    {
                        _ended = true;
                        throw new IpcException(IpcStatus.Closed,
                            $"the peer closed the connection in the middle of a websocket frame ({_payloadLeft} bytes of it missing)");
                    }
                }

                Deliver(destination.Slice(0, n));
                return n;
            }

            int header = TryReadHeader();
            if (header > 0)
            {
                continue;
            }

            if (header < 0)
            {
                return 0; // the peer's close
            }

            // Not a whole header (or control frame) yet: more bytes.
            if (_inStart > 0)
            {
                _in.AsSpan(_inStart, _inEnd - _inStart).CopyTo(_in);
                _inEnd -= _inStart;
                _inStart = 0;
            }

            int got = _wire.RawReceive(_in.AsSpan(_inEnd), Remaining(timeoutMs, deadline));
            if (got < 0)
            {
                return -1;
            }

            if (got == 0)
            {
                _ended = true;
                if (_inEnd == 0 && !_inMessage)
                {
                    PeerClose = "the peer closed the connection without a websocket close";
                    return 0;
                }

                throw new IpcException(IpcStatus.Closed, _inMessage
                    ? "the peer closed the connection in the middle of a websocket message"
                    : "the peer closed the connection in the middle of a websocket frame header");
            }

            _inEnd += got;
        }
    }

    private static int Remaining(int timeoutMs, long deadline)
    {
        if (timeoutMs < 0)
        {
            return -1;
        }

        long left = deadline - Stopwatch.GetTimestamp();
        return left <= 0 ? 0 : (int)Math.Min(int.MaxValue, left * 1000 / Stopwatch.Frequency);
    }

    /// <summary>Unmasks what was just received and follows the message's DP header.</summary>
    private void Deliver(Span<byte> data)
    {
        WsMask.Apply(data, _mask, _maskOffset);
        _maskOffset += data.Length;
        _payloadLeft -= (ulong)data.Length;
        int i = 0;
        while (i < data.Length && _messageGot < FrameHeader.Size)
        {
            _dpHead = (_dpHead << 8) | data[i++];
            _messageGot++;
        }

        if (i > 0 && _messageGot == FrameHeader.Size && Expected > _maxMessage)
        {
            // The DP reader would refuse it too; the peer hears 1009, and none of it is delivered.
            Fail(WsFrame.MessageTooBig, $"a DP frame of {Expected - FrameHeader.Size} bytes is larger than the maximum ({_maxMessage - FrameHeader.Size})");
        }

        if (i > 0 && _messageGot == FrameHeader.Size && _messageAnnounced > Expected)
        {
            Fail(WsFrame.ProtocolError, $"a websocket message carries more than one DP frame (announced {_messageAnnounced} bytes, its DP header says {Expected})");
        }

        _messageGot += (ulong)(data.Length - i);
        if (_payloadLeft == 0 && _fin)
        {
            EndMessage();
        }
    }

    private ulong Expected => FrameHeader.Size + (ulong)(uint)_dpHead;

    private void EndMessage()
    {
        if (_messageAnnounced < FrameHeader.Size || _messageAnnounced != Expected)
        {
            Fail(WsFrame.ProtocolError, _messageAnnounced < FrameHeader.Size
                ? $"a websocket message of {_messageAnnounced} bytes is shorter than a DP header (every message carries exactly one DP frame)"
                : $"a websocket message of {_messageAnnounced} bytes does not hold exactly one DP frame (its DP header says {Expected} bytes)");
        }

        _inMessage = false;
        _messageGot = 0;
        _messageAnnounced = 0;
        _dpHead = 0;
    }

    /// <summary>
    /// Parses the frame header at the read-ahead's start. 1: a data frame started (or a
    /// control frame was handled, or an empty fragment passed); 0: more bytes needed; -1:
    /// the peer's close (answered). Throws IpcException after sending the close code.
    /// </summary>
    private int TryReadHeader()
    {
        ReadOnlySpan<byte> b = _in.AsSpan(_inStart, _inEnd - _inStart);
        if (b.Length < 2)
        {
            return 0;
        }

        bool fin = (b[0] & 0x80) != 0;
        int opcode = b[0] & 0x0F;
        bool masked = (b[1] & 0x80) != 0;
        ulong length = (ulong)(b[1] & 0x7F);
        if ((b[0] & 0x70) != 0)
        {
            Fail(WsFrame.ProtocolError, $"a websocket frame has reserved bits set (0x{b[0] & 0x70:x2}; no extension was agreed)");
        }

        bool control = (opcode & 0x8) != 0;
        if (opcode is not (WsFrame.Continuation or WsFrame.Text or WsFrame.Binary or WsFrame.Close or WsFrame.Ping or WsFrame.Pong))
        {
            Fail(WsFrame.ProtocolError, $"a websocket frame has the reserved opcode 0x{opcode:x}");
        }

        if (masked == _isClient)
        {
            Fail(WsFrame.ProtocolError, _isClient
                ? "the server sent a masked websocket frame (RFC 6455: a client must close the connection)"
                : "the client sent an unmasked websocket frame (RFC 6455: client frames must be masked)");
        }

        if (control && (!fin || length > WsFrame.MaxControlPayload))
        {
            Fail(WsFrame.ProtocolError, !fin
                ? $"a fragmented websocket control frame (opcode 0x{opcode:x})"
                : $"a websocket control frame announces {length} bytes (at most 125)");
        }

        int size = 2;
        if (length == 126)
        {
            if (b.Length < 4)
            {
                return 0;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(2));
            size = 4;
        }
        else if (length == 127)
        {
            if (b.Length < 10)
            {
                return 0;
            }

            length = BinaryPrimitives.ReadUInt64BigEndian(b.Slice(2));
            size = 10;
            if (length > long.MaxValue)
            {
                Fail(WsFrame.ProtocolError, "a websocket frame's 64-bit length has its top bit set");
            }
        }

        uint mask = 0;
        if (masked)
        {
            if (b.Length < size + 4)
            {
                return 0;
            }

            mask = BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(size));
            size += 4;
        }

        if (control)
        {
            if (b.Length < size + (int)length)
            {
                return 0;
            }

            Span<byte> payload = _in.AsSpan(_inStart + size, (int)length);
            WsMask.Apply(payload, mask, 0);
            _inStart += size + (int)length;
            return Control(opcode, payload) ? 1 : -1;
        }

        if (opcode == WsFrame.Text)
        {
            Fail(WsFrame.UnsupportedData, "the peer sent a websocket text message; DP frames travel as binary messages");
        }

        if (opcode == WsFrame.Binary ? _inMessage : !_inMessage)
        {
            Fail(WsFrame.ProtocolError, _inMessage
                ? "a new websocket message began before the previous one was finished"
                : "a websocket continuation frame came with no message to continue");
        }

        // Refused by the announced length alone, before a byte of it is read or anything allocated.
        ulong announced = _messageAnnounced + length;
        if (announced > _maxMessage)
        {
            Fail(WsFrame.MessageTooBig, $"a websocket message of at least {announced} bytes is larger than the maximum frame ({_maxMessage} bytes with its DP header)");
        }

        if (_messageGot >= FrameHeader.Size && announced > Expected)
        {
            Fail(WsFrame.ProtocolError, $"a websocket message carries more than one DP frame (announced {announced} bytes, its DP header says {Expected})");
        }

        _inStart += size;
        _inMessage = true;
        _messageAnnounced = announced;
        _payloadLeft = length;
        _mask = mask;
        _maskOffset = 0;
        _fin = fin;
        if (length == 0 && fin)
        {
            EndMessage();
        }

        return 1;
    }

    /// <summary>Handles a control frame: false for the peer's close (answered).</summary>
    private bool Control(int opcode, ReadOnlySpan<byte> payload)
    {
        if (opcode == WsFrame.Ping)
        {
            Span<byte> pong = stackalloc byte[WsFrame.MaxHeaderSize + WsFrame.MaxControlPayload];
            int size = WsFrame.WriteControl(pong, WsFrame.Pong, payload, _keys?.Next() ?? 0);
            _wire.SendControl(pong.Slice(0, size));
            return true;
        }

        if (opcode == WsFrame.Pong)
        {
            return true; // unsolicited pongs are allowed and mean nothing
        }

        if (payload.Length == 1)
        {
            Fail(WsFrame.ProtocolError, "a websocket close frame with a 1-byte payload");
        }

        ushort code = payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : WsFrame.NoStatus;
        string reason;
        try
        {
            reason = payload.Length > 2 ? new UTF8Encoding(false, true).GetString(payload.Slice(2)) : "";
        }
        catch (DecoderFallbackException)
        {
            Fail(WsFrame.InvalidPayload, "a websocket close reason that is not UTF-8");
            throw; // not reached
        }

        PeerClose = reason.Length == 0 ? $"the peer closed the websocket (code {code})" : $"the peer closed the websocket (code {code}: {reason})";
        _ended = true;
        SendClose(code == WsFrame.NoStatus ? WsFrame.NormalClosure : code, "");
        if (_inMessage)
        {
            // Between the fragments of a message: a frame cut short, as a stream that ends mid-frame.
            throw new IpcException(IpcStatus.Closed, $"{PeerClose}, in the middle of a message ({_messageGot} bytes of it received)");
        }

        return false;
    }

    /// <summary>Sends a close frame once (the answer to the peer's, ours at cleanup, or a refusal's code). True when this call sent it.</summary>
    public bool SendClose(ushort code, string reason)
    {
        lock (_closeGate)
        {
            if (_closeSent)
            {
                return false;
            }

            _closeSent = true;
        }

        Span<byte> frame = stackalloc byte[WsFrame.MaxHeaderSize + WsFrame.MaxControlPayload];
        int size = WsFrame.WriteClose(frame, code, reason, _keys?.Next() ?? 0);
        _wire.SendControl(frame.Slice(0, size));
        return true;
    }

    private void Fail(ushort code, string message)
    {
        _ended = true;
        SendClose(code, code == WsFrame.MessageTooBig ? "message too big" : code == WsFrame.UnsupportedData ? "binary messages only" : "protocol error");
        throw new IpcException(code == WsFrame.MessageTooBig ? IpcStatus.FrameTooLarge : IpcStatus.Protocol, "websocket: " + message);
    }
}
