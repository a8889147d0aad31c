using System;

namespace DapperIpc.Diagnostics;

/// <summary>Where log messages go: the host's callback, or a test's collector.</summary>
public interface ILogSink
{
    void Write(LogLevel level, string message);
}

/// <summary>
/// Every message the library can log is a method here, so this file is the one list
/// of them. Off until a sink is installed; a message below the sink's level is
/// dropped before it is formatted.
/// </summary>
public static class Log
{
    private sealed record Target(ILogSink Sink, LogLevel MinLevel);

    private static volatile Target? s_target;

    /// <summary>Installs (or, with null, removes) the process-wide sink.</summary>
    public static void SetSink(ILogSink? sink, LogLevel minLevel)
        => s_target = sink is null ? null : new Target(sink, minLevel);

    private static bool Enabled(LogLevel level, out ILogSink sink)
    {
        Target? target = s_target;
        if (target is null || level < target.MinLevel)
        {
            sink = null!;
            return false;
        }

        sink = target.Sink;
        return true;
    }

    private static void Write(LogLevel level, Func<string> message)
    {
        if (!Enabled(level, out ILogSink sink))
        {
            return;
        }

        try
        {
            sink.Write(level, message());
        }
        catch (Exception)
        {
            // A failing log sink must not turn a working call into a failed one.
        }
    }

    public static void NonLoopbackBind(string host)
        => Write(LogLevel.Warning, () =>
            $"security warning: the tcp listener is bound to the non-loopback address {host}; " +
            "anyone who can reach it can drive the debug adapter, which can execute code in the debuggee");

    public static void UnixFallbackToTcp(string reason)
        => Write(LogLevel.Warning, () => $"unix socket listener unavailable ({reason}); falling back to tcp on loopback");

    public static void StaleSocketRemoved(string path)
        => Write(LogLevel.Info, () => $"removed stale unix socket {path} (nobody was listening on it)");

    public static void SocketReplaced(string path)
        => Write(LogLevel.Info, () => $"left {path} alone at cleanup: it is no longer the socket this listener bound");

    public static void HungUpClientSkipped(string description)
        => Write(LogLevel.Debug, () => $"skipped a client on {description} that hung up without sending anything (a probe); still waiting");

    public static void PeerRefused(string description, uint peerUid, uint ownUid)
        => Write(LogLevel.Warning, () =>
            $"refused a client on {description}: it runs as uid {peerUid}, this process as uid {ownUid}; only the same user may connect");

    public static void AuthRefused(string description, string reason)
        => Write(LogLevel.Warning, () => $"refused a client on {description}: {reason} (the listener requires an auth token)");

    public static void Listening(string description)
        => Write(LogLevel.Debug, () => $"listening on {description}");

    public static void Connected(string description)
        => Write(LogLevel.Debug, () => $"connected: {description}");

    public static void ConnectRetry(string description, string reason)
        => Write(LogLevel.Debug, () => $"connect to {description} failed ({reason}); retrying");

    public static void ConnectionEnded(string description, IpcStatus status, string reason)
        => Write(status == IpcStatus.Ok ? LogLevel.Debug : LogLevel.Warning,
            () => $"connection {description} ended: {reason}");

    public static void HandlerFailed(string description, Exception e)
        => Write(LogLevel.Error, () => $"the message handler of {description} threw: {e.GetType().Name}: {e.Message}");

    public static void ReadableReadKept()
        => Write(LogLevel.Warning, () =>
            "cleanup: the readable handle's zero-byte read did not end within 10 s of being cancelled; its OVERLAPPED (40 bytes) is left allocated, as the OS may still write it");

    public static void CleanupFailed(string what, Exception e)
        => Write(LogLevel.Warning, () => $"cleanup could not {what}: {e.Message}");

    public static void SessionRefused(string description, int? peerPid, string reason)
        => Write(LogLevel.Warning, () =>
            $"refused a session client on {description}{PeerPid(peerPid)}: {reason}; the other sessions go on");

    public static void SessionReady(string description, string sessionId, int? peerPid)
        => Write(LogLevel.Debug, () => $"session {sessionId} connected on {description}{PeerPid(peerPid)}");

    public static void SessionOfferFailed(string sessionId, Exception e)
        => Write(LogLevel.Error, () => $"the offer callback for session {sessionId} threw: {e.GetType().Name}: {e.Message}; the session is refused");

    public static void SessionAcceptFailed(string description, string reason)
        => Write(LogLevel.Warning, () => $"accepting a session client on {description} failed: {reason}; retrying");

    public static void KeepAliveIncomplete(string reason)
        => Write(LogLevel.Debug, () => $"tcp keepalive not fully configured ({reason}): a dead remote host is noticed later");

    public static void HeartbeatsOn(string description, int ownMs, int peerMs)
        => Write(LogLevel.Debug, () => $"heartbeats on {description}: every {ownMs} ms, the peer every {peerMs} ms");

    public static void Resumed(string description, long peerDelivered, int replayed)
        => Write(LogLevel.Info, () => $"resumed {description}: the peer had {peerDelivered} frames, {replayed} replayed");

    public static void Rejoining(string description, string reason)
        => Write(LogLevel.Info, () => $"connection {description} dropped ({reason}): resuming");

    private static string PeerPid(int? pid) => pid is int p ? $" (peer pid {p})" : string.Empty;

    public static void WsRefused(string description, string peer, int status, string reason)
        => Write(LogLevel.Warning, () => $"refused a websocket client {peer} on {description}: HTTP {status}, {reason}");

    public static void WsHandshakeAbandoned(string description, string peer, string why)
        => Write(LogLevel.Warning, () => $"dropped a websocket client {peer} on {description} during its handshake: {why}");

    public static void WsAccepted(string description, string peer, string? origin)
        => Write(LogLevel.Debug, () => $"websocket client {peer} on {description} upgraded{(origin is null ? " (no Origin: a native client)" : $" (origin {origin})")}");

    public static void TlsRefused(string description, string peer, string reason)
        => Write(LogLevel.Warning, () => $"refused a tls client {peer} on {description}: {reason}");

    public static void TlsAccepted(string description, string peer, string version)
        => Write(LogLevel.Debug, () => $"tls client {peer} on {description}: {version} handshake done");
}
