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

    /// <summary>Closes the socket and removes every file the listener created. Idempotent; wakes a blocked Accept.</summary>
    public abstract void Dispose();
}
