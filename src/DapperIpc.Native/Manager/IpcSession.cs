using System.Threading;
using DapperIpc.Transports;

namespace DapperIpc.Manager;

/// <summary>
/// One lifetime of a manager's endpoint: from create_listener or connect to cleanup.
/// Threads that wait on it (accept, connect, the reader) hold this object, not the
/// manager, so a cleanup followed by a new listener can never hand them the new one.
/// All fields but <see cref="Closed"/> are guarded by <see cref="Gate"/>.
/// </summary>
internal sealed class IpcSession
{
    // A plain object, not System.Threading.Lock: waiters use Monitor.Wait on it.
    public readonly object Gate = new();
    public readonly CancellationTokenSource Cancel = new();

    public ListenerBase? Listener;
    public ConnectionBase? Connection;
    public Thread? Reader;
    public IConnectionHandler? Handler;

    /// <summary>A thread is inside Listener.Accept; others wait for it rather than accept in parallel.</summary>
    public bool Accepting;

    private volatile bool _closed;

    public bool Closed => _closed;

    /// <summary>
    /// Quick and idempotent, from any thread: wakes every waiter (accept, connect, the
    /// reader's receive, blocked sends) and removes the listener's files. Never waits.
    /// </summary>
    public void Close()
    {
        ListenerBase? listener;
        ConnectionBase? connection;
        lock (Gate)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            listener = Listener;
            connection = Connection;
            Monitor.PulseAll(Gate);
        }

        Cancel.Cancel();
        listener?.Dispose();
        connection?.Close();
    }
}
