using System.Collections.Concurrent;
using System.Threading;
using DapperIpc.Manager;

namespace DapperIpc.Interop;

/// <summary>
/// Maps handle ids to managers. Ids count up from 1 and are never reused, so a stale or
/// forged handle finds nothing and becomes an error code instead of a use-after-free.
/// </summary>
internal static class HandleTable
{
    private static readonly ConcurrentDictionary<ulong, IPCManager> s_managers = new();
    private static long s_lastId;

    public static ManagerHandle Add(IPCManager manager)
    {
        ulong id = (ulong)Interlocked.Increment(ref s_lastId);
        s_managers[id] = manager;
        return new ManagerHandle { Id = id };
    }

    public static IPCManager Get(ManagerHandle handle)
        => s_managers.TryGetValue(handle.Id, out IPCManager? manager) ? manager : throw Invalid(handle);

    public static IPCManager Remove(ManagerHandle handle)
        => s_managers.TryRemove(handle.Id, out IPCManager? manager) ? manager : throw Invalid(handle);

    private static IpcException Invalid(ManagerHandle handle) => new(IpcStatus.InvalidHandle, handle.Id == 0
        ? "invalid handle: the zero handle is never valid (was the manager created?)"
        : $"invalid handle {handle.Id}: it was destroyed or never issued");
}
