using System.Runtime.InteropServices;

namespace DapperIpc.Interop;

/// <summary>dapper_ipc_manager: an id wrapped in a struct so C cannot mix it up with other integers.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ManagerHandle
{
    public ulong Id;
}
