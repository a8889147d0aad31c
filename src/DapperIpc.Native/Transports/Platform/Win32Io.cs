using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The overlapped-I/O pieces that <see cref="WindowsPipeIo"/> and
/// <see cref="WindowsReadySignal"/> share: the OVERLAPPED layout and the event calls.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class Win32Io
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct OVERLAPPED
    {
        public nuint Internal;
        public nuint InternalHigh;
        public uint Offset;
        public uint OffsetHigh;
        public nint Event;
    }

    [LibraryImport("kernel32.dll", EntryPoint = "CreateEventW", SetLastError = true)]
    private static partial nint CreateEvent(void* attributes, [MarshalAs(UnmanagedType.Bool)] bool manualReset,
        [MarshalAs(UnmanagedType.Bool)] bool initialState, void* name);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    internal static partial bool SetEvent(nint handle);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    internal static partial bool ResetEvent(nint handle);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    internal static partial bool CloseHandle(nint handle);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    internal static partial bool CancelIoEx(nint file, OVERLAPPED* overlapped);

    /// <summary>A new manual-reset event, not signalled and not inheritable.</summary>
    internal static nint NewEvent()
    {
        nint e = CreateEvent(null, true, false, null);
        if (e == 0)
        {
            throw new IpcException(IpcStatus.Io, $"CreateEvent failed: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }

        return e;
    }
}
