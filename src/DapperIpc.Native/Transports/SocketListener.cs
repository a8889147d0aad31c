using System;
using System.Net.Sockets;
using System.Threading;

namespace DapperIpc.Transports;

/// <summary>The accept loop shared by the unix and tcp listeners.</summary>
internal abstract class SocketListener : ListenerBase
{
    private readonly Socket _socket;
    private int _disposed;

    protected SocketListener(Socket socket, uint maxPayload)
    {
        _socket = socket;
        MaxPayload = maxPayload;
    }

    protected uint MaxPayload { get; }

    protected bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public override ConnectionBase? Accept(int timeoutMs)
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
                try
                {
                    ConnectionBase? connection = OnAccepted(client);
                    if (connection is not null)
                    {
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

    /// <summary>Checks and wraps an accepted client; null refuses it (the caller closes it and waits for the next).</summary>
    protected abstract ConnectionBase? OnAccepted(Socket client);

    private IpcException Cancelled() => new(IpcStatus.Cancelled, $"the listener {Description} was closed while waiting for a client");

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            // Shutdown wakes a thread blocked in poll/accept on this socket before the handle goes.
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
        RemoveFiles();
    }

    /// <summary>Removes what the listener created on disk (the unix socket and its directory).</summary>
    protected virtual void RemoveFiles()
    {
    }
}
