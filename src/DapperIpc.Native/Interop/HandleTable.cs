using System.Collections.Concurrent;
using System.Threading;
using DapperIpc.Manager;
using DapperIpc.Sessions;

namespace DapperIpc.Interop;

/// <summary>
/// Maps handle ids to managers and session listeners. Ids count up from 1 and are never
/// reused, so a stale or forged handle finds nothing and becomes an error code instead of
/// a use-after-free.
/// </summary>
internal static class HandleTable
{
    private static readonly Handles<IPCManager> s_managers = new("manager");
    private static readonly Handles<SessionListener> s_listeners = new("session listener");

    public static ManagerHandle Add(IPCManager manager) => new() { Id = s_managers.Add(manager) };

    public static IPCManager Get(ManagerHandle handle) => s_managers.Get(handle.Id);

    public static IPCManager Remove(ManagerHandle handle) => s_managers.Remove(handle.Id);

    public static SessionListenerHandle Add(SessionListener listener) => new() { Id = s_listeners.Add(listener) };

    public static SessionListener Get(SessionListenerHandle handle) => s_listeners.Get(handle.Id);

    public static SessionListener Remove(SessionListenerHandle handle) => s_listeners.Remove(handle.Id);

    /// <summary>One kind of handle: its own ids, never reused.</summary>
    private sealed class Handles<T>(string what) where T : class
    {
        private readonly ConcurrentDictionary<ulong, T> _items = new();
        private long _lastId;

        public ulong Add(T item)
        {
            ulong id = (ulong)Interlocked.Increment(ref _lastId);
            _items[id] = item;
            return id;
        }

        public T Get(ulong id) => _items.TryGetValue(id, out T? item) ? item : throw Invalid(id);

        public T Remove(ulong id) => _items.TryRemove(id, out T? item) ? item : throw Invalid(id);

        private IpcException Invalid(ulong id) => new(IpcStatus.InvalidHandle, id == 0
            ? $"invalid handle: the zero handle is never valid (was the {what} created?)"
            : $"invalid handle {id}: it was destroyed or never issued");
    }
}
