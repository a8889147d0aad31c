using System;
using System.Net.Sockets;
using System.Threading;

namespace DapperIpc.Transports;

/// <summary>The accept loop shared by the unix and tcp listeners.</summary>
internal abstract class SocketListener : ListenerBase
{
    private readonly Socket _socket;
    private int _disposed;

    protected SocketListener(Socket socket, ConnectionOptions options)
    {
        _socket = socket;
        Options = options;
    }

    protected ConnectionOptions Options { get; }

    public override string? AuthToken => Options.AuthToken;

    protected bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public override ConnectionBase? Accept(int timeoutMs) => Accept(timeoutMs, authenticate: true);

    internal override ConnectionBase? AcceptNext(int timeoutMs) => Accept(timeoutMs, authenticate: false);

    private ConnectionBase? Accept(int timeoutMs, bool authenticate)
    {
        if (IsDisposed)
        {
            throw Cancelled();
        }

        try
        {
            // Poll first so the wait has a timeout; disposing the socket from another
            // thread (cleanup) wakes it. A refused client does not end the wait.
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            while (true)
            {
                TimeSpan wait = timeoutMs < 0
                    ? Timeout.InfiniteTimeSpan
                    : TimeSpan.FromMilliseconds(Math.Max(0, timeoutMs - System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds));
                if (!_socket.Poll(wait, SelectMode.SelectRead))
                {
                    return null;
                }

                if (IsDisposed)
                {
                    throw Cancelled();
                }

                Socket client = _socket.Accept();
                if (HungUpWithoutSaying(client))
                {
                    // A connection already closed with nothing sent: another listener's
                    // probe of this path (UnixSocketListener.ClearStaleSocket), a port
                    // scanner. It would use up the one client; wait for a real one.
                    Diagnostics.Log.HungUpClientSkipped(Description);
                    client.Dispose();
                    continue;
                }

                try
                {
                    ConnectionBase? connection = OnAccepted(client);
                    if (connection is not null && (!authenticate || Authenticated(connection)))
                    {
                        connection.Admitted();
                        return connection;
                    }
                }
                catch
                {
                    client.Dispose();
                    throw;
                }

                client.Dispose();
            }
        }
        catch (SocketException) when (IsDisposed)
        {
            throw Cancelled();
        }
        catch (ObjectDisposedException)
        {
            throw Cancelled();
        }
        catch (SocketException e)
        {
            throw SocketErrors.ToIpc(e, $"accept on {Description}");
        }
    }

    /// <summary>True when the peer has closed and sent nothing: readable now, with no byte to read (end of stream, or an error).</summary>
    private static bool HungUpWithoutSaying(Socket client)
    {
        try
        {
            return client.Poll(0, SelectMode.SelectRead) && client.Available == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>Checks and wraps an accepted client; null refuses it (the caller closes it and waits for the next).</summary>
    protected abstract ConnectionBase? OnAccepted(Socket client);

    internal override string? AuthRefusal(ConnectionBase connection, int timeoutMs)
        => TokenHandshake.Refusal(connection, Options.AuthToken, timeoutMs);

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Shutdown wakes a thread blocked in poll/accept on this socket before the handle goes.
        SocketErrors.ShutdownQuietly(_socket);
        _socket.Dispose();
        RemoveFiles();
    }

    /// <summary>Removes what the listener created on disk (the unix socket and its directory).</summary>
    protected virtual void RemoveFiles()
    {
    }
}
