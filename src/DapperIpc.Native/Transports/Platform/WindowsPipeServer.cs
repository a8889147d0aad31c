using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Principal;
using DapperIpc.Transports.Pipe;
using Microsoft.Win32.SafeHandles;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// Creates the server end of a pipe exactly as the launcher and our security need it:
/// message mode (the Python client reads one frame per message), the first instance of
/// the name (a squatter who made it first makes us fail instead of serve them),
/// remote clients rejected, and a DACL that admits only the current user. A listener for
/// many clients (the session listener) makes its first instance so, allowing unlimited
/// instances, and each later one with <see cref="CreateNext"/>: the same name, mode,
/// flags and DACL, without the first-instance flag (the name is already ours). Only Windows
/// runs this file: CI compiles it for win-x64 and the Wine lane (tests/wine) runs it.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class WindowsPipeServer
{
    private const uint PIPE_ACCESS_DUPLEX = 0x3;
    private const uint FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000;
    private const uint FILE_FLAG_OVERLAPPED = 0x40000000;
    private const uint PIPE_TYPE_MESSAGE = 0x4;
    private const uint PIPE_READMODE_MESSAGE = 0x2;
    private const uint PIPE_REJECT_REMOTE_CLIENTS = 0x8;
    private const int BufferSize = 64 * 1024;
    private const uint PIPE_UNLIMITED_INSTANCES = 255;

    [StructLayout(LayoutKind.Sequential)]
    private struct SecurityAttributes
    {
        public int Length;
        public void* SecurityDescriptor;
        public int InheritHandle;
    }

    [LibraryImport("kernel32.dll", EntryPoint = "CreateNamedPipeW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    private static partial SafePipeHandle CreateNamedPipe(string name, uint openMode, uint pipeMode, uint maxInstances,
        uint outBufferSize, uint inBufferSize, uint defaultTimeout, SecurityAttributes* attributes);

    [LibraryImport("advapi32.dll", EntryPoint = "ConvertStringSecurityDescriptorToSecurityDescriptorW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool ConvertSddl(string sddl, uint revision, out void* descriptor, void* size);

    [LibraryImport("kernel32.dll", EntryPoint = "LocalFree")]
    private static partial void* LocalFree(void* memory);

    /// <summary>The first instance of a name; <paramref name="manyClients"/>: more instances may follow (<see cref="CreateNext"/>), else this is the only one.</summary>
    public static SafePipeHandle Create(string bareName, bool manyClients = false)
        => Create(bareName, FILE_FLAG_FIRST_PIPE_INSTANCE, manyClients ? PIPE_UNLIMITED_INSTANCES : 1);

    /// <summary>Another instance of a name whose first instance <see cref="Create"/> made with manyClients.</summary>
    public static SafePipeHandle CreateNext(string bareName) => Create(bareName, 0, PIPE_UNLIMITED_INSTANCES);

    private static SafePipeHandle Create(string bareName, uint firstInstance, uint maxInstances)
    {
        string user = WindowsIdentity.GetCurrent().User?.Value
            ?? throw new IpcException(IpcStatus.Io, "cannot read the current user's SID for the pipe's access list");
        // Owned by this user (clients check the owner), protected DACL: full access for
        // this user, nobody else. The owner is explicit: Wine's default owner is a group.
        if (!ConvertSddl($"O:{user}D:P(A;;GA;;;{user})", 1, out void* descriptor, null))
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "cannot build the pipe's security descriptor");
        }

        try
        {
            var attributes = new SecurityAttributes { Length = sizeof(SecurityAttributes), SecurityDescriptor = descriptor };
            SafePipeHandle handle = CreateNamedPipe(PipeName.Full(bareName),
                PIPE_ACCESS_DUPLEX | firstInstance | FILE_FLAG_OVERLAPPED,
                PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_REJECT_REMOTE_CLIENTS,
                maxInstances, BufferSize, BufferSize, 0, &attributes);
            if (handle.IsInvalid)
            {
                int error = Marshal.GetLastPInvokeError();
                handle.Dispose();
                throw new System.IO.IOException($"CreateNamedPipe failed: {new Win32Exception(error).Message}", error);
            }

            // Not wrapped in a NamedPipeServerStream: an asynchronous stream binds the handle
            // to the thread pool's completion port; WindowsPipeIo drives it on our threads.
            return handle;
        }
        finally
        {
            LocalFree(descriptor);
        }
    }
}
