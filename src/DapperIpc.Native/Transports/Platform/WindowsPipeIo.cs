using System;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Principal;
using System.Threading;
using Microsoft.Win32.SafeHandles;
using static DapperIpc.Transports.Platform.Win32Io;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// One end of a Windows named pipe, driven with overlapped I/O on the calling thread: every
/// operation (ConnectNamedPipe, ReadFile, WriteFile) gets its own OVERLAPPED and event, and
/// the caller waits with WaitForMultipleObjects on that event and this pipe's cancel event.
/// Nothing waits on the runtime's thread pool, so a host whose activity holds the pool's
/// workers cannot delay a frame. The handle is never bound to an I/O completion port.
/// <see cref="Shutdown"/> (any thread, never blocks) sets the cancel event, cancels pending
/// I/O and closes the handle once no operation is inside a call on it; the peer then reads
/// what was already written and gets end-of-file (ERROR_BROKEN_PIPE).
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed unsafe partial class WindowsPipeIo : IDisposable
{
    private const int ERROR_FILE_NOT_FOUND = 2;
    private const int ERROR_INVALID_HANDLE = 6;
    private const int ERROR_BROKEN_PIPE = 109;
    private const int ERROR_SEM_TIMEOUT = 121;
    private const int ERROR_PIPE_BUSY = 231;
    private const int ERROR_NO_DATA = 232;
    private const int ERROR_PIPE_NOT_CONNECTED = 233;
    private const int ERROR_MORE_DATA = 234;
    private const int ERROR_PIPE_CONNECTED = 535;
    private const int ERROR_OPERATION_ABORTED = 995;
    private const int ERROR_IO_PENDING = 997;
    private const uint WAIT_OBJECT_0 = 0;
    private const uint WAIT_TIMEOUT = 0x102;
    private const uint INFINITE = 0xFFFFFFFF;
    private const uint GENERIC_READ = 0x80000000;
    private const uint GENERIC_WRITE = 0x40000000;
    private const uint OPEN_EXISTING = 3;
    private const uint FILE_FLAG_OVERLAPPED = 0x40000000;
    private const uint SECURITY_SQOS_PRESENT = 0x00100000;
    private const uint SECURITY_IDENTIFICATION = 0x00010000;
    private const uint PIPE_READMODE_MESSAGE = 0x2;

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool ConnectNamedPipe(nint pipe, OVERLAPPED* overlapped);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool ReadFile(nint file, byte* buffer, uint toRead, uint* read, OVERLAPPED* overlapped);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool WriteFile(nint file, byte* buffer, uint toWrite, uint* written, OVERLAPPED* overlapped);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool GetOverlappedResult(nint file, OVERLAPPED* overlapped, out uint transferred, [MarshalAs(UnmanagedType.Bool)] bool wait);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    private static partial uint WaitForMultipleObjects(uint count, nint* handles, [MarshalAs(UnmanagedType.Bool)] bool waitAll, uint milliseconds);

    [LibraryImport("kernel32.dll", EntryPoint = "WaitNamedPipeW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool WaitNamedPipe(string name, uint timeoutMs);

    [LibraryImport("kernel32.dll", EntryPoint = "CreateFileW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    private static partial SafePipeHandle CreateFile(string name, uint access, uint share, void* security, uint disposition, uint flags, nint template);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool SetNamedPipeHandleState(SafePipeHandle pipe, uint* mode, uint* maxCollection, uint* collectDataTimeout);

    [LibraryImport("advapi32.dll", SetLastError = false)]
    private static partial uint GetSecurityInfo(SafePipeHandle handle, int objectType, uint securityInfo,
        void** owner, void** group, void** dacl, void** sacl, void** descriptor);

    [LibraryImport("advapi32.dll")]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool EqualSid(void* sid1, void* sid2);

    [LibraryImport("kernel32.dll")]
    private static partial void* LocalFree(void* memory);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool GetNamedPipeClientProcessId(SafePipeHandle pipe, out uint processId);

    private readonly SafePipeHandle _handle;
    private readonly nint _cancel; // manual-reset: set once by Shutdown, wakes every wait
    private int _shutdown;

    public WindowsPipeIo(SafePipeHandle handle)
    {
        _handle = handle;
        _cancel = NewEvent();
    }

    /// <summary>The pid of a connected client (server end), where the OS tells it; null otherwise.</summary>
    public int? ClientProcessId
    {
        get
        {
            try
            {
                return GetNamedPipeClientProcessId(_handle, out uint pid) && pid != 0 ? (int)pid : null;
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
        }
    }

    /// <summary>True once <see cref="Shutdown"/> ran.</summary>
    public bool IsShutdown => Volatile.Read(ref _shutdown) != 0;

    /// <summary>
    /// Waits for a client (server end). True: connected (also when the client came before
    /// the wait, ERROR_PIPE_CONNECTED). False: the timeout passed. Throws Cancelled after
    /// <see cref="Shutdown"/>.
    /// </summary>
    public bool Accept(int timeoutMs)
    {
        return Run(timeoutMs, static (h, ov, _, _) =>
        {
            if (ConnectNamedPipe(h, ov))
            {
                return AlreadyDone;
            }

            int error = Marshal.GetLastPInvokeError();
            // A client that connected before the call: connected. One that connected and
            // already left (ERROR_NO_DATA): connected too; its first read is end-of-file.
            // Neither started an operation, so there is nothing to wait for.
            return error is ERROR_PIPE_CONNECTED or ERROR_NO_DATA ? AlreadyDone : error;
        }, null, 0, out _, out int error) switch
        {
            Outcome.Done => true,
            Outcome.TimedOut => false,
            Outcome.Cancelled => throw new IpcException(IpcStatus.Cancelled, "the listener was closed while waiting for a client"),
            _ => throw new IpcException(IpcStatus.Io, $"ConnectNamedPipe failed: {new Win32Exception(error).Message}"),
        };
    }

    /// <summary>
    /// Reads what the pipe has, up to <paramref name="buffer"/>'s length: a message longer
    /// than the buffer (ERROR_MORE_DATA) continues in the next read. 0: end-of-file (the
    /// peer closed, or <see cref="Shutdown"/> ran).
    /// </summary>
    public int Read(Span<byte> buffer) => Read(buffer, -1);

    /// <summary>As <see cref="Read(Span{byte})"/>, waiting at most <paramref name="timeoutMs"/> (negative: no limit): -1 when nothing came in time.</summary>
    public int Read(Span<byte> buffer, int timeoutMs)
    {
        fixed (byte* p = buffer)
        {
            var outcome = Run(timeoutMs, static (h, ov, data, length) =>
            {
                bool ok = ReadFile(h, data, length, null, ov);
                return ok ? 0 : Marshal.GetLastPInvokeError();
            }, p, (uint)buffer.Length, out uint transferred, out int error);
            return outcome switch
            {
                Outcome.Done => (int)transferred,
                _ when error == ERROR_MORE_DATA => (int)transferred,
                Outcome.TimedOut => -1,
                Outcome.Cancelled => 0,
                _ when error is ERROR_BROKEN_PIPE or ERROR_PIPE_NOT_CONNECTED or ERROR_NO_DATA or ERROR_INVALID_HANDLE => 0,
                _ => throw new IpcException(IpcStatus.Io, $"ReadFile failed: {new Win32Exception(error).Message}"),
            };
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> in one WriteFile (one message on a message-mode pipe),
    /// waiting at most <paramref name="timeoutMs"/> (negative: no limit) for a peer that
    /// does not read. Throws IpcException: Closed, or SendTimeout (StreamCut when part of
    /// the message went out).
    /// </summary>
    public void Write(ReadOnlySpan<byte> data, int timeoutMs, string description)
    {
        fixed (byte* p = data)
        {
            var outcome = Run(timeoutMs, static (h, ov, buffer, length) =>
            {
                bool ok = WriteFile(h, buffer, length, null, ov);
                return ok ? 0 : Marshal.GetLastPInvokeError();
            }, p, (uint)data.Length, out uint transferred, out int error);
            switch (outcome)
            {
                case Outcome.Done when transferred == (uint)data.Length:
                    return;
                case Outcome.TimedOut when transferred == 0:
                    throw new IpcException(IpcStatus.SendTimeout,
                        "send timed out: the peer has not read for the whole send timeout; nothing of the frame was sent and the connection is still usable");
                case Outcome.TimedOut:
                    throw new IpcException(IpcStatus.SendTimeout,
                        $"send timed out after {transferred} of {data.Length} bytes of the frame: the peer stopped reading; the stream is cut, so the connection is closed") { StreamCut = true };
                case Outcome.Cancelled:
                    throw new IpcException(IpcStatus.Closed, $"the pipe {description} is closed") { StreamCut = transferred != 0 };
                default:
                    throw new IpcException(IpcStatus.Closed, $"the pipe {description} is closed: {new Win32Exception(error).Message}")
                    { StreamCut = transferred != 0 && transferred != (uint)data.Length };
            }
        }
    }

    private enum Outcome
    {
        Done,
        TimedOut,
        Cancelled,
        Failed,
    }

    private delegate int StartBufferOp(nint handle, OVERLAPPED* overlapped, byte* buffer, uint length);

    /// <summary>What a start function returns when it finished without starting an overlapped operation.</summary>
    private const int AlreadyDone = -1;

    /// <summary>
    /// Starts one overlapped operation and waits, on this thread, for it, for the timeout, or
    /// for Shutdown. A timed-out or cancelled operation is cancelled with CancelIoEx and
    /// waited for before its OVERLAPPED and buffer go away; if it completed in that race,
    /// its result wins.
    /// </summary>
    private Outcome Run(int timeoutMs, StartBufferOp start, byte* buffer, uint length, out uint transferred, out int error)
    {
        transferred = 0;
        error = 0;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            error = ERROR_INVALID_HANDLE;
            return Outcome.Cancelled;
        }

        nint ioEvent = 0;
        try
        {
            if (IsShutdown)
            {
                return Outcome.Cancelled;
            }

            nint h = _handle.DangerousGetHandle();
            ioEvent = NewEvent();
            OVERLAPPED ov = default;
            // The low bit keeps a completion off any completion port (the handle is never
            // bound to one; this makes sure).
            ov.Event = ioEvent | 1;
            int started = start(h, &ov, buffer, length);
            if (started == AlreadyDone)
            {
                return Outcome.Done;
            }

            if (started != 0 && started != ERROR_IO_PENDING)
            {
                if (started == ERROR_MORE_DATA)
                {
                    GetOverlappedResult(h, &ov, out transferred, false);
                }

                error = started;
                return Outcome.Failed;
            }

            Outcome outcome = Outcome.Done;
            if (started == ERROR_IO_PENDING)
            {
                nint* handles = stackalloc nint[2] { ioEvent, _cancel };
                uint wait = WaitForMultipleObjects(2, handles, false, timeoutMs < 0 ? INFINITE : (uint)timeoutMs);
                if (wait != WAIT_OBJECT_0)
                {
                    outcome = wait == WAIT_TIMEOUT ? Outcome.TimedOut : Outcome.Cancelled;
                    CancelIoEx(h, &ov);
                }
            }

            // Waits for the operation to be over (completed or cancelled) before ov goes away.
            if (GetOverlappedResult(h, &ov, out transferred, true))
            {
                return Outcome.Done;
            }

            error = Marshal.GetLastPInvokeError();
            return error == ERROR_OPERATION_ABORTED ? outcome == Outcome.Done ? Outcome.Cancelled : outcome : Outcome.Failed;
        }
        finally
        {
            if (ioEvent != 0)
            {
                CloseHandle(ioEvent);
            }

            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>Wakes every wait, cancels pending I/O, and closes the handle as soon as no operation is inside a call on it. Any thread; never blocks.</summary>
    public void Shutdown()
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0)
        {
            return;
        }

        SetEvent(_cancel);
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            CancelIoEx(_handle.DangerousGetHandle(), null);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }

        // The real CloseHandle runs when the last operation releases its reference.
        _handle.Dispose();
    }

    /// <summary>Releases the cancel event; call once no thread can be inside an operation.</summary>
    public void Dispose()
    {
        Shutdown();
        CloseHandle(_cancel);
    }

    /// <summary>
    /// Opens the client end as CPython's multiprocessing does for an AF_PIPE address:
    /// WaitNamedPipe, CreateFile with FILE_FLAG_OVERLAPPED, then message read mode. Checks
    /// that the pipe's owner is the current user (a squatter's pipe is refused). Retries
    /// until <paramref name="timeoutMs"/> while the name does not exist or is busy.
    /// </summary>
    public static WindowsPipeIo Connect(string fullName, int timeoutMs, CancellationToken cancel)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            int left = timeoutMs < 0 ? 0 : timeoutMs - (int)Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            SafePipeHandle handle = CreateFile(fullName, GENERIC_READ | GENERIC_WRITE, 0, null, OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, 0);
            if (!handle.IsInvalid)
            {
                try
                {
                    uint mode = PIPE_READMODE_MESSAGE;
                    if (!SetNamedPipeHandleState(handle, &mode, null, null))
                    {
                        throw new IpcException(IpcStatus.ConnectionRefused,
                            $"cannot set message mode on the pipe {fullName}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
                    }

                    CheckOwnerIsCurrentUser(handle, fullName);
                    return new WindowsPipeIo(handle);
                }
                catch
                {
                    handle.Dispose();
                    throw;
                }
            }

            int error = Marshal.GetLastPInvokeError();
            handle.Dispose();
            if (error is not (ERROR_FILE_NOT_FOUND or ERROR_PIPE_BUSY or ERROR_SEM_TIMEOUT))
            {
                throw new IpcException(IpcStatus.ConnectionRefused, $"cannot connect to the pipe {fullName}: {new Win32Exception(error).Message}");
            }

            if (left <= 0)
            {
                throw new IpcException(IpcStatus.ConnectionRefused,
                    $"nobody is listening on the pipe {fullName} (gave up after {(int)Stopwatch.GetElapsedTime(start).TotalMilliseconds} ms)");
            }

            if (error == ERROR_PIPE_BUSY)
            {
                // Another client holds the one instance: wait for it (bounded, to see cancel).
                WaitNamedPipe(fullName, (uint)Math.Min(left, 50));
            }
            else
            {
                // No such pipe yet: Windows has no way to wait for a name to appear; look again shortly.
                cancel.WaitHandle.WaitOne(Math.Min(left, 20));
            }
        }
    }

    private static bool IsSid(void* sid, SecurityIdentifier? expected)
    {
        if (expected is null)
        {
            return false;
        }

        byte[] binary = new byte[expected.BinaryLength];
        expected.GetBinaryForm(binary, 0);
        fixed (byte* b = binary)
        {
            return EqualSid(sid, b);
        }
    }

    private static void CheckOwnerIsCurrentUser(SafePipeHandle handle, string fullName)
    {
        const int SE_KERNEL_OBJECT = 6;
        const uint OWNER_SECURITY_INFORMATION = 1;
        void* owner = null, descriptor = null;
        uint rc = GetSecurityInfo(handle, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, null, null, null, &descriptor);
        if (rc != 0)
        {
            throw new IpcException(IpcStatus.ConnectionRefused, $"cannot read the owner of the pipe {fullName}: {new Win32Exception((int)rc).Message}");
        }

        try
        {
            // Windows gives every pipe an owner; Wine gives none to a pipe made with default
            // security (CPython's multiprocessing makes its pipes so). Unverifiable: refused.
            if (owner == null)
            {
                throw new IpcException(IpcStatus.ConnectionRefused,
                    $"the pipe {fullName} reports no owner, so it cannot be checked to be this user's: refused");
            }

            // This user's pipe: owned by the user, or by the owner this user's objects get by
            // default (the token's owner), which is what a server that sets none gets. In an
            // elevated process that is the Administrators group, not the user (.NET's
            // PipeOptions.CurrentUserOnly compares with the same).
            using WindowsIdentity me = WindowsIdentity.GetCurrent();
            if (!IsSid(owner, me.User) && !IsSid(owner, me.Owner))
            {
                throw new IpcException(IpcStatus.ConnectionRefused,
                    $"the pipe {fullName} belongs to {new SecurityIdentifier((nint)owner).Value}, not to this user: refused");
            }
        }
        finally
        {
            LocalFree(descriptor);
        }
    }
}
