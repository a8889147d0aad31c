using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using static DapperIpc.Transports.Platform.Win32Io;

namespace DapperIpc.Transports.Platform;

/// <summary>
/// The pull mode's readable handle on Windows: a manual-reset event. The library sets it
/// while a whole frame is in its buffer (or the connection ended); otherwise a zero-byte
/// overlapped WSARecv, whose OVERLAPPED names the event, sets it when the socket has bytes
/// (or end-of-file, or an error). A zero-byte read takes nothing and leaves the socket in
/// blocking mode (WSAEventSelect would make it non-blocking under the blocking send path).
/// The read is posted again only once the previous one completed and the library has
/// nothing buffered. Its OVERLAPPED lives in native memory, which the OS may write until the
/// read completes, so Dispose cancels it and waits for that before freeing it.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed unsafe partial class WindowsReadySignal : ReadySignal
{
    private const nuint STATUS_PENDING = 0x103;
    private const int WSA_IO_PENDING = 997;
    private const uint WAIT_OBJECT_0 = 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct WsaBuf
    {
        public uint Length;
        public byte* Buffer;
    }

    [LibraryImport("ws2_32.dll", SetLastError = true)]
    private static partial int WSARecv(nint socket, WsaBuf* buffers, uint count, uint* received, uint* flags,
        OVERLAPPED* overlapped, nint completion);

    [LibraryImport("kernel32.dll")]
    private static partial uint WaitForSingleObject(nint handle, uint milliseconds);

    private readonly SafeHandle _socket;
    private nint _event;
    private OVERLAPPED* _overlapped; // the zero-byte read's, with its flags word after it
    private bool _posted;     // a read was posted: _overlapped is the OS's until it completes
    private bool _signalled;  // set by Set(true), not by a completion

    public WindowsReadySignal(SafeHandle socket)
    {
        _socket = socket;
        _event = NewEvent();
        _overlapped = (OVERLAPPED*)NativeMemory.AllocZeroed((nuint)(sizeof(OVERLAPPED) + sizeof(uint)));
    }

    public override nint Handle => _event;

    private bool Pending => _posted && Volatile.Read(ref _overlapped->Internal) == STATUS_PENDING;

    public override void Set(bool ready)
    {
        if (_event == 0)
        {
            return;
        }

        if (ready)
        {
            if (!_signalled)
            {
                SetEvent(_event);
                _signalled = true;
            }

            return;
        }

        // Still waiting for bytes and not set by us: only the completion can set the event.
        if (!_signalled && Pending)
        {
            return;
        }

        // Reset first, then look: a completion after the reset sets the event again, one
        // before it is seen below and the read posted anew (it completes at once while the
        // socket still has bytes).
        ResetEvent(_event);
        _signalled = false;
        if (!Pending)
        {
            Post();
        }
    }

    private void Post()
    {
        _posted = false;
        bool added = false;
        try
        {
            _socket.DangerousAddRef(ref added);
            *_overlapped = default;
            // The low bit keeps the completion off any completion port the runtime bound
            // the socket to: only the event hears of it.
            _overlapped->Event = _event | 1;
            uint* flags = (uint*)(_overlapped + 1);
            *flags = 0;
            WsaBuf none = default;
            if (WSARecv(_socket.DangerousGetHandle(), &none, 1, null, flags, _overlapped, 0) == 0)
            {
                _posted = true;
                SetEvent(_event); // completed at once: the socket has bytes (or end-of-file)
                return;
            }

            // Winsock sets the thread's last error (WSAGetLastError), which the stub saved.
            if (Marshal.GetLastPInvokeError() == WSA_IO_PENDING)
            {
                _posted = true;
                return;
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                _socket.DangerousRelease();
            }
        }

        // The socket failed or is closed: recv returns its status at once.
        SetEvent(_event);
        _signalled = true;
    }

    public override void Dispose()
    {
        if (_event == 0)
        {
            return;
        }

        if (Pending)
        {
            bool added = false;
            try
            {
                _socket.DangerousAddRef(ref added);
                CancelIoEx(_socket.DangerousGetHandle(), _overlapped);
            }
            catch (ObjectDisposedException)
            {
                // Closed: closesocket cancelled the read; its completion is still to be seen.
            }
            finally
            {
                if (added)
                {
                    _socket.DangerousRelease();
                }
            }

            // The completion writes _overlapped, then sets the event: reset, then look.
            int timeouts = 0;
            while (timeouts < 10)
            {
                ResetEvent(_event);
                if (!Pending)
                {
                    break;
                }

                if (WaitForSingleObject(_event, 1000) != WAIT_OBJECT_0)
                {
                    timeouts++;
                }
            }
        }

        // A read the OS never completed keeps its OVERLAPPED: freed memory it could write is worse than 40 bytes.
        if (Pending)
        {
            Diagnostics.Log.ReadableReadKept();
        }
        else
        {
            NativeMemory.Free(_overlapped);
        }

        _overlapped = null;
        CloseHandle(_event);
        _event = 0;
    }
}
