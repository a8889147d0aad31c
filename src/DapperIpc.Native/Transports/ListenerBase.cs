using System;
using System.Collections.Generic;

namespace DapperIpc.Transports;

/// <summary>
/// A bound, listening endpoint that hands out one connection per accepted client.
/// Bound as soon as it exists, so a launcher started afterwards always finds it and
/// a late one waits in the backlog.
/// </summary>
public abstract class ListenerBase : IDisposable
{
    /// <summary>The arguments that tell the Python launcher where to connect (docs/protocol.md).</summary>
    public abstract IReadOnlyList<string> LauncherArgs { get; }

    public abstract string Description { get; }

    /// <summary>The token clients must present first, when the listener requires one.</summary>
    public virtual string? AuthToken => null;

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (negative: forever) for a client.
    /// Returns null on timeout; throws IpcException Cancelled when the listener is
    /// disposed meanwhile.
    /// </summary>
    public abstract ConnectionBase? Accept(int timeoutMs);

    /// <summary>
    /// Accept for a listener that serves many clients (Sessions/SessionListener), one
    /// accepting thread: as <see cref="Accept"/>, with the token check left to the caller's
    /// thread (<see cref="AuthRefusal"/>), so a slow client never holds up the next one.
    /// Unsupported for a listener made for one client.
    /// </summary>
    internal virtual ConnectionBase? AcceptNext(int timeoutMs)
        => throw new IpcException(IpcStatus.Unsupported, $"the listener {Description} serves one client");

    /// <summary>Reads and checks a client's auth frame when the listener requires one, within <paramref name="timeoutMs"/>: the reason for a refusal, or null.</summary>
    internal virtual string? AuthRefusal(ConnectionBase connection, int timeoutMs) => null;

    /// <summary>Closes the socket and removes every file the listener created. Idempotent; wakes a blocked Accept.</summary>
    public abstract void Dispose();

    /// <summary>
    /// For Accept on a listener that checks the token itself: true when the client passed
    /// <see cref="AuthRefusal"/>; a refused one is logged and closed, and the caller waits for the next.
    /// </summary>
    protected bool Authenticated(ConnectionBase connection)
    {
        string? refusal = AuthRefusal(connection, TokenHandshake.ReadTimeoutMs);
        if (refusal is null)
        {
            return true;
        }

        Diagnostics.Log.AuthRefused(Description, refusal);
        connection.DisposeNow();
        return false;
    }

    /// <summary>What a wait for a client throws when the listener is disposed before or during it.</summary>
    protected IpcException Cancelled() => new(IpcStatus.Cancelled, $"the listener {Description} was closed while waiting for a client");
}
