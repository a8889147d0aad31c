using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Transports;

namespace DapperIpc.Manager;

/// <summary>
/// DAPPER_IPC_FLAG_RECONNECT for one session: the resume half of the control channel
/// (docs/protocol.md), the frames kept until the peer acknowledges them, and the send path
/// that survives a drop. Sends are serialised here (the ring's order must be the wire's);
/// the reader acknowledges what it delivered and, after a drop, rejoins (reconnects, or
/// takes the client back) and has the unacknowledged frames replayed by a short-lived
/// thread, so neither reader ever blocks writing while the other does too.
/// </summary>
internal sealed class Resume
{
    private const byte Offer = 4;   // [4][version][16-byte id]: "I can resume"; the listener answers with its own
    private const byte Rejoin = 5;  // [5][version][16-byte id][u64 frames delivered]: after a reconnect, both ways
    private const byte Refuse = 6;  // [6][UTF-8 reason]: no resume; the connection closes
    private const byte Ack = 7;     // [7][u64 frames delivered]
    private const byte Version = 1;
    private const int IdSize = 16;
    private const int AckEvery = 256; // a sender adds an acknowledgement once this many are owed
    private const int HandshakeMs = 5000;

    private readonly byte[] _id = RandomNumberGenerator.GetBytes(IdSize);
    private readonly bool _listenerSide;
    private readonly TransportConfig _config;
    private readonly object _gate = new();      // the send order: sends, replays, the live connection
    private readonly object _ringLock = new();  // the ring, briefly: the reader acknowledges under it
    private readonly ResumeRing _ring;
    private ConnectionBase? _live;  // under _gate; null before the first connection and while rejoining
    private string? _ended;         // under _gate: why sends fail from now on
    private byte[]? _peerId;
    private volatile bool _negotiated;
    private volatile bool _announced; // the connecting end offered; the answer may still be on its way
    private long _delivered;        // written by the reader only
    private long _ackSent;
    private int _generation;
    private Thread? _replay;
    private volatile string? _refusal;

    /// <summary>The peer refused the resume on a live connection (its reason); null otherwise.</summary>
    public string? Refusal => _refusal;

    public Resume(TransportConfig config, bool listenerSide)
    {
        _config = config;
        _listenerSide = listenerSide;
        _ring = new ResumeRing(config.ResumeBufferBytes);
    }

    /// <summary>Both ends set the flag and agreed: a drop is resumed rather than reported.</summary>
    public bool Negotiated => _negotiated;

    /// <summary>
    /// A drop is to be resumed: agreed, or (connecting end) offered with the answer not in
    /// yet, since a drop can overtake it; a listener without the flag then simply does not
    /// answer the rejoin, and the drop is reported after all.
    /// </summary>
    public bool Resumable => _negotiated || _announced;

    /// <summary>A drop is being resumed (dapper_ipc_stats.state).</summary>
    public bool Rejoining => Resumable && Volatile.Read(ref _live) is null && Volatile.Read(ref _ended) is null;

    /// <summary>The session has its (first) connection.</summary>
    public void Attach(ConnectionBase connection)
    {
        lock (_gate)
        {
            _live ??= connection;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The connecting end's announcement, right after connect (and the heartbeat's).</summary>
    public void Announce(ConnectionBase connection)
    {
        Span<byte> offer = stackalloc byte[2 + IdSize];
        connection.SendControl(OfferPayload(offer, Offer), wait: true);
        _announced = true;
    }

    /// <summary>Sends are over: waiting ones fail with <paramref name="reason"/>. Any thread.</summary>
    public void End(string reason)
    {
        lock (_gate)
        {
            _ended ??= reason;
            _live = null;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The send path with the flag: the frames are kept, then written; a drop meanwhile leaves them to the replay.</summary>
    public void Send(ReadOnlySpan<NativeFrame> frames)
    {
        long start = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            ConnectionBase connection = WaitLive(_config.SendTimeoutMs, start);
            for (int i = 0; i < frames.Length; i++)
            {
                if (frames[i].Length > connection.MaxPayload)
                {
                    throw new IpcException(IpcStatus.FrameTooLarge, frames.Length == 1
                        ? $"frame too large: {frames[0].Length} bytes, the maximum is {connection.MaxPayload}"
                        : $"frame {i} too large: {frames[i].Length} bytes, the maximum is {connection.MaxPayload}; nothing was sent");
                }
            }

            int firstAt = -1;
            long firstSeq;
            lock (_ringLock)
            {
                firstSeq = _ring.NextSeq;
                for (int i = 0; i < frames.Length; i++)
                {
                    int at = _ring.Append((byte)frames[i].Kind, frames[i].PayloadSpan);
                    if (i == 0)
                    {
                        firstAt = at;
                    }
                }
            }

            try
            {
                connection.SendFrames(frames);
            }
            catch (IpcException e) when (e.Status != IpcStatus.FrameTooLarge)
            {
                bool dropped = e.Status is IpcStatus.Closed or IpcStatus.Io || e.StreamCut || connection.IsClosed;
                if (dropped && !Resumable)
                {
                    // A listener whose reader has not yet read the client's offer (it is in
                    // the stream before the end): the reader decides, once it reaches the drop.
                    AwaitDecision(start);
                }

                if (!dropped || !Resumable || _ended is not null)
                {
                    lock (_ringLock)
                    {
                        _ring.Rewind(firstAt, firstSeq, e.FramesSent);
                    }

                    throw;
                }

                // The connection dropped under the send: the frames are kept, and the
                // resume replays whatever of them the peer did not get. They count as sent
                // (once: the replay is not counted), and later sends wait for the resume
                // instead of piling up in the ring.
                CountKept(connection.Stats, frames[e.FramesSent..]);
                if (_live == connection)
                {
                    _live = null;
                }

                return;
            }
            catch (IpcException)
            {
                lock (_ringLock)
                {
                    _ring.Rewind(firstAt, firstSeq, 0);
                }

                throw;
            }

            if (_negotiated && Volatile.Read(ref _delivered) - Volatile.Read(ref _ackSent) >= AckEvery)
            {
                SendAck(connection, wait: true);
            }
        }
    }

    /// <summary>The reader delivered <paramref name="count"/> frames: acknowledge them, unless the stream is busy (a sender then does).</summary>
    public void Delivered(int count, ConnectionBase connection)
    {
        Volatile.Write(ref _delivered, _delivered + count);
        if (_negotiated)
        {
            SendAck(connection, wait: false);
        }
    }

    /// <summary>A resume control frame (types 4 to 7), on the reader thread.</summary>
    public static bool Handles(byte type) => type is >= Offer and <= Ack;

    public void OnControl(ConnectionBase connection, ReadOnlySpan<byte> payload)
    {
        switch (payload[0])
        {
            case Offer when payload.Length >= 2 + IdSize:
                if (_peerId is null)
                {
                    _peerId = payload.Slice(2, IdSize).ToArray();
                    if (_listenerSide)
                    {
                        Span<byte> answer = stackalloc byte[2 + IdSize];
                        TrySend(connection, OfferPayload(answer, Offer));
                    }

                    _negotiated = true;
                }

                break;

            case Ack when payload.Length >= 9:
                long acked = BinaryPrimitives.ReadInt64BigEndian(payload.Slice(1, 8));
                lock (_ringLock)
                {
                    _ring.Acknowledge(acked);
                }

                break;

            case Refuse:
                // The peer found, after this end's answer, that it cannot resume (frames it
                // needs are gone): the session is over, not to be rejoined again.
                _refusal = System.Text.Encoding.UTF8.GetString(payload[1..]);
                connection.Abort();
                break;

            case Rejoin:
                // A client resuming a session this listener never had: another process, or
                // a listener that was restarted under it. It must not think it resumed.
                TrySend(connection, RefusePayload("this end has no session to resume (it is a new process, or the session ended)"));
                connection.Close(); // not Abort: the refusal must reach the client
                break;
        }
    }

    /// <summary>
    /// After a drop, on the reader: marks the session as rejoining (sends wait) and gets the
    /// connection back: the connecting end reconnects with backoff, the listener accepts
    /// the client's return; then the handshake and the replay (on its own thread). Returns
    /// the new connection, or null when cleanup ran; throws IpcException with the reason
    /// the resume failed.
    /// </summary>
    public ConnectionBase? RejoinAfterDrop(IpcSession session, ConnectionBase dropped)
    {
        Interlocked.Increment(ref _generation);
        dropped.Abort(); // wakes a sender blocked on it
        lock (_gate)
        {
            if (_ended is null)
            {
                _live = null;
            }
        }

        // A connecting end whose offer was never answered gets one try: a listener with the
        // flag keeps its endpoint open and answers at once (the drop may have overtaken its
        // answer), so a refused, closed or unanswered try means a listener without it.
        bool answered = _listenerSide || _negotiated;
        long start = Stopwatch.GetTimestamp();
        int limit = _config.ReconnectTimeoutMs;
        int Remaining() => limit < 0 ? Timeout.Infinite
            : (int)Math.Max(0, limit - (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds);

        ConnectionBase? next;
        long peerDelivered;
        while (true)
        {
            next = _listenerSide ? TakeBack(session, Remaining) : Reconnect(session, Remaining, limit, answered);
            if (next is null)
            {
                return null;
            }

            try
            {
                peerDelivered = Handshake(next, Math.Min(HandshakeMs, Remaining() is var r && r < 0 ? HandshakeMs : Math.Max(1, r)));
                break;
            }
            catch (HandshakeBroke broke)
            {
                // Dropped again during the handshake: one more try, while time is left.
                next.Abort();
                if (!answered)
                {
                    throw Unanswered(broke.Message);
                }

                if (Remaining() == 0 || session.Closed)
                {
                    throw new IpcException(IpcStatus.Closed, $"resume failed: {broke.Message}");
                }
            }
            catch (IpcException)
            {
                next.Close();
                throw;
            }
        }

        List<NativeFrame>? frames;
        string? problem;
        lock (_ringLock)
        {
            frames = _ring.After(peerDelivered, out problem);
        }

        if (frames is null)
        {
            TrySend(next, RefusePayload(problem!));
            next.Close();
            throw new IpcException(IpcStatus.Closed, $"resume failed: {problem}");
        }

        if (_listenerSide)
        {
            // The listener answers once it knows it can give the client what it lacks.
            next.SendControl(RejoinPayload(stackalloc byte[2 + IdSize + 8]), wait: true);
        }

        StartReplay(next, frames, Volatile.Read(ref _generation));
        Log.Resumed(next.Description, peerDelivered, frames.Count);
        return next;
    }

    /// <summary>Waits for the replay thread (cleanup). Any thread but the replay's.</summary>
    public void Stop()
    {
        End("the connection was cleaned up");
        Thread? t;
        lock (_ringLock)
        {
            t = _replay;
        }

        if (t is not null && t != Thread.CurrentThread)
        {
            t.Join();
        }
    }

    private void AwaitDecision(long start)
    {
        int limit = _config.SendTimeoutMs;
        while (!Resumable && _ended is null)
        {
            int left = limit < 0 ? Timeout.Infinite
                : (int)Math.Max(0, limit - (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (left == 0)
            {
                return;
            }

            // Rare (a drop right after connect), so polled: the reader never takes the gate
            // to say it read the offer (a sender may hold it, blocked, and the reader must read).
            Monitor.Wait(_gate, left < 0 ? 10 : Math.Min(left, 10));
        }
    }

    private ConnectionBase WaitLive(int sendTimeoutMs, long start)
    {
        while (true)
        {
            if (_ended is { } why)
            {
                throw new IpcException(IpcStatus.Closed, $"the connection is closed: {why}");
            }

            if (_live is { } live)
            {
                return live;
            }

            int left = sendTimeoutMs < 0 ? Timeout.Infinite
                : (int)Math.Max(0, sendTimeoutMs - (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (left == 0)
            {
                throw new IpcException(IpcStatus.SendTimeout,
                    $"send timed out after {sendTimeoutMs} ms waiting for the connection to be resumed; nothing was sent");
            }

            Monitor.Wait(_gate, left);
        }
    }

    private static IpcException Unanswered(string attempt) => new(IpcStatus.Closed,
        "resume failed: the listener never answered this end's resume offer and the reconnect failed " +
        $"({attempt}): the listener does not set DAPPER_IPC_FLAG_RECONNECT, or it is gone");

    private ConnectionBase? Reconnect(IpcSession session, Func<int> remaining, int limit, bool answered)
    {
        TransportConfig once = _config.Copy();
        once.ConnectTimeoutMs = -1;
        int backoff = 50;
        string last = "no attempt";
        while (true)
        {
            if (session.Closed)
            {
                return null;
            }

            try
            {
                ConnectionBase c = TransportFactory.CreateConnection(once, session.CancelToken);
                if (!session.Replace(c))
                {
                    c.DisposeNow();
                    return null;
                }

                c.SendControl(RejoinPayload(stackalloc byte[2 + IdSize + 8]), wait: true);
                return c;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (IpcException e) when (e.Status != IpcStatus.Cancelled)
            {
                if (!answered)
                {
                    throw Unanswered(e.Message);
                }

                last = e.Message;
            }

            int left = remaining();
            if (left == 0)
            {
                throw new IpcException(IpcStatus.Timeout, $"could not reconnect within {limit} ms (last attempt: {last})");
            }

            if (session.CancelToken.WaitHandle.WaitOne(left < 0 ? backoff : Math.Min(backoff, left)))
            {
                return null;
            }

            backoff = Math.Min(backoff * 2, 2000);
        }
    }

    private ConnectionBase? TakeBack(IpcSession session, Func<int> remaining)
    {
        ListenerBase listener = session.Listener ?? throw new IpcException(IpcStatus.Closed, "the listener is gone");
        ConnectionBase? c;
        try
        {
            c = listener.Accept(remaining());
        }
        catch (IpcException e) when (e.Status == IpcStatus.Cancelled || session.Closed)
        {
            return null;
        }

        if (c is null)
        {
            throw new IpcException(IpcStatus.Timeout, $"the client did not come back within {_config.ReconnectTimeoutMs} ms (reconnect_timeout_ms)");
        }

        if (!session.Replace(c))
        {
            c.DisposeNow();
            return null;
        }

        return c;
    }

    /// <summary>Reads the peer's rejoin (the first frame on the new connection) and checks it is the same peer: its frames delivered.</summary>
    private long Handshake(ConnectionBase c, int timeoutMs)
    {
        long deadline = ConnectionBase.Deadline(timeoutMs);
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        if (!c.ReceiveExactly(header, deadline))
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
            {
                throw new HandshakeBroke("the connection closed during the resume handshake");
            }

            throw new IpcException(IpcStatus.Closed,
                $"resume failed: the peer did not answer the resume request within {timeoutMs} ms (does it set DAPPER_IPC_FLAG_RECONNECT?)");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        if (header[0] != (byte)'D' || header[1] != (byte)'P' || header[3] != FrameKind.Control || length > 4096)
        {
            throw new IpcException(IpcStatus.Closed,
                "resume failed: the peer's first frame after the reconnect is not a resume message: it is another process that does not resume this session");
        }

        byte[] payload = new byte[length];
        if (length == 0 || !c.ReceiveExactly(payload, deadline))
        {
            throw new HandshakeBroke("the connection closed during the resume handshake");
        }

        if (payload[0] == Refuse)
        {
            throw new IpcException(IpcStatus.Closed,
                $"resume refused by the peer: {System.Text.Encoding.UTF8.GetString(payload, 1, payload.Length - 1)}");
        }

        if (payload[0] != Rejoin || payload.Length < 2 + IdSize + 8)
        {
            throw new IpcException(IpcStatus.Closed, "resume failed: the peer answered with something other than a resume message");
        }

        if (_peerId is null && !_listenerSide)
        {
            // The drop overtook the listener's answer to the offer: it checked this end's
            // id (it took the offer, or it would have refused), so its own is the one.
            _peerId = payload.AsSpan(2, IdSize).ToArray();
            _negotiated = true;
        }

        if (_peerId is null || !payload.AsSpan(2, IdSize).SequenceEqual(_peerId))
        {
            string why = _listenerSide
                ? "a different process connected in place of the client (its session id is not the one it announced)"
                : "the listener is a different process than before (its session id changed: it was restarted)";
            TrySend(c, RefusePayload(why));
            throw new IpcException(IpcStatus.Closed, $"resume failed: {why}; frames it had not acknowledged are lost");
        }

        return BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(2 + IdSize, 8));
    }

    private void StartReplay(ConnectionBase c, List<NativeFrame> frames, int generation)
    {
        var t = new Thread(() => Replay(c, frames, generation)) { IsBackground = true, Name = "dapper-ipc-resume" };
        Thread? previous;
        lock (_ringLock)
        {
            previous = _replay;
            _replay = t;
        }

        previous?.Join();
        t.Start();
    }

    private void Replay(ConnectionBase c, List<NativeFrame> frames, int generation)
    {
        lock (_gate)
        {
            if (generation != Volatile.Read(ref _generation) || _ended is not null)
            {
                return;
            }

            try
            {
                if (frames.Count > 0)
                {
                    c.SendReplay(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(frames));
                }
            }
            catch (IpcException)
            {
                return; // dropped again: the reader rejoins once more, and the ring still has them
            }

            if (generation == Volatile.Read(ref _generation))
            {
                _live = c;
                Monitor.PulseAll(_gate);
            }
        }
    }

    private static void CountKept(ConnectionStats stats, ReadOnlySpan<NativeFrame> frames)
    {
        long bytes = 0;
        foreach (NativeFrame f in frames)
        {
            bytes += FrameHeader.Size + (long)f.Length;
        }

        stats.FramesSent += frames.Length;
        stats.BytesSent += bytes;
        stats.LastSendStamp = Stopwatch.GetTimestamp();
    }

    private void SendAck(ConnectionBase c, bool wait)
    {
        long delivered = Volatile.Read(ref _delivered);
        Span<byte> ack = stackalloc byte[9];
        ack[0] = Ack;
        BinaryPrimitives.WriteInt64BigEndian(ack[1..], delivered);
        try
        {
            if (c.SendControl(ack, wait))
            {
                Volatile.Write(ref _ackSent, delivered);
            }
        }
        catch (IpcException)
        {
            // The connection is ending; the resume handshake carries the count instead.
        }
    }

    private static void TrySend(ConnectionBase c, ReadOnlySpan<byte> payload)
    {
        try
        {
            c.SendControl(payload, wait: true);
        }
        catch (IpcException)
        {
        }
    }

    private Span<byte> OfferPayload(Span<byte> buffer, byte type)
    {
        buffer[0] = type;
        buffer[1] = Version;
        _id.CopyTo(buffer[2..]);
        return buffer;
    }

    private Span<byte> RejoinPayload(Span<byte> buffer)
    {
        OfferPayload(buffer, Rejoin);
        BinaryPrimitives.WriteInt64BigEndian(buffer.Slice(2 + IdSize, 8), Volatile.Read(ref _delivered));
        return buffer;
    }

    private static byte[] RefusePayload(string reason)
    {
        byte[] text = System.Text.Encoding.UTF8.GetBytes(reason);
        byte[] payload = new byte[1 + text.Length];
        payload[0] = Refuse;
        text.CopyTo(payload, 1);
        return payload;
    }
}

/// <summary>The connection dropped during a resume handshake: worth another try.</summary>
internal sealed class HandshakeBroke(string message) : Exception(message);
