namespace DapperIpc.Manager;

/// <summary>
/// Where the pull mode put one frame in the caller's buffer. Offsets rather than pointers:
/// the core works on spans; the interop layer turns them into the header's
/// <c>dapper_ipc_frame</c> pointers.
/// </summary>
public readonly record struct ReceivedFrame(int Offset, int Length, byte Kind);
