using System.Runtime.InteropServices;

namespace DapperIpc.Interop;

/// <summary>dapper_ipc_session_listener: an id wrapped in a struct, as <see cref="ManagerHandle"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SessionListenerHandle
{
    public ulong Id;
}
