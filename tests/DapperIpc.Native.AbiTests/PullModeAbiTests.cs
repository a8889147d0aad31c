using System.Runtime.InteropServices;
using DapperIpc.AbiTests.Native;
using static DapperIpc.AbiTests.Native.DapperIpcNative;

namespace DapperIpc.AbiTests;

/// <summary>
/// The pull mode through the C ABI: dapper_ipc_recv on the caller's thread and the readable
/// handle's contract (readable exactly while recv(timeout 0) has something to return).
/// </summary>
public unsafe partial class PullModeAbiTests
{
    private const int Ok = (int)dapper_ipc_status.DAPPER_IPC_OK;
    private const int Timeout = (int)dapper_ipc_status.DAPPER_IPC_E_TIMEOUT;
    private const int TooSmall = (int)dapper_ipc_status.DAPPER_IPC_E_BUFFER_TOO_SMALL;
    private const int Closed = (int)dapper_ipc_status.DAPPER_IPC_E_CLOSED;
    private const int Event = (int)dapper_ipc_kind.DAPPER_IPC_KIND_EVENT;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll")]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("kernel32.dll")]
    private static partial uint WaitForSingleObject(nint handle, uint milliseconds);

    /// <summary>True when the handle is readable within timeoutMs: poll(2) on the fd (epoll on Linux, kqueue on macOS); on Windows a wait on the event.</summary>
    private static bool Readable(nint handle, int timeoutMs)
    {
        if (OperatingSystem.IsWindows())
        {
            return WaitForSingleObject(handle, (uint)timeoutMs) == 0;
        }

        var p = new PollFd { Fd = (int)handle, Events = 1 };
        return Poll(&p, 1, timeoutMs) == 1 && (p.Revents & 1) != 0;
    }

    public static TheoryData<string> Transports => ["unix", "tcp"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_burst_read_at_once_keeps_the_handle_readable_until_every_frame_is_taken(string transport)
    {
        var (server, client) = Abi.Pair(transport);
        nint handle;
        Assert.Equal(Ok, dapper_ipc_readable_handle(server, &handle));
        Assert.False(Readable(handle, 0), "nothing was sent yet");

        // 50 frames in one writev: they land in the library's buffer in one or few reads.
        const int Count = 50;
        Abi.SendBatch(client, Enumerable.Range(0, Count).Select(i => (Event, $"{{\"seq\": {i}}}")).ToList());

        byte* buf = stackalloc byte[256];
        nuint length;
        int kind;
        for (int i = 0; i < Count; i++)
        {
            // The contract: readable now (the frame is buffered or in the socket), and recv
            // with timeout 0 returns it.
            Assert.True(Readable(handle, 20_000), $"not readable before frame {i}");
            Assert.Equal(Ok, dapper_ipc_recv(server, buf, 256, &length, &kind, 0));
            Assert.Equal(Event, kind);
            Assert.Equal($"{{\"seq\": {i}}}", System.Text.Encoding.UTF8.GetString(buf, (int)length));
        }

        Assert.False(Readable(handle, 0), "readable with every frame taken");
        Assert.Equal(Timeout, dapper_ipc_recv(server, buf, 256, &length, &kind, 0));

        // End of the connection: readable, and recv says closed at once (every time).
        Assert.Equal(Ok, dapper_ipc_cleanup(client));
        Assert.True(Readable(handle, 20_000), "the peer's end-of-file must make it readable");
        Assert.Equal(Closed, dapper_ipc_recv(server, buf, 256, &length, &kind, -1));
        Assert.Equal(Closed, dapper_ipc_recv(server, buf, 256, &length, &kind, -1));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_frame_larger_than_the_buffer_reports_its_size_and_is_kept(string transport)
    {
        var (server, client) = Abi.Pair(transport);
        string big = "{\"data\": \"" + new string('x', 5000) + "\"}";
        Assert.Equal(Ok, Abi.Send(client, Event, big));
        Assert.Equal(Ok, Abi.Send(client, Event, "{}"));
        byte* small = stackalloc byte[16];
        nuint length;
        int kind = 0;
        Assert.Equal(TooSmall, dapper_ipc_recv(server, small, 16, &length, &kind, 20_000));
        Assert.Equal((nuint)big.Length, length);
        Assert.Equal(Event, kind);
        Assert.Equal(TooSmall, dapper_ipc_recv(server, null, 0, &length, null, 0)); // still there
        byte[] whole = new byte[length];
        fixed (byte* w = whole)
        {
            Assert.Equal(Ok, dapper_ipc_recv(server, w, length, &length, &kind, 0));
        }

        Assert.Equal(big, System.Text.Encoding.UTF8.GetString(whole));
        Assert.Equal(Ok, dapper_ipc_recv(server, small, 16, &length, &kind, 20_000));
        Assert.Equal("{}", System.Text.Encoding.UTF8.GetString(small, (int)length));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    [Fact]
    public void Recv_waits_for_the_timeout_then_returns_timeout_and_a_reader_is_refused_after_pull()
    {
        var (server, client) = Abi.Pair("unix");
        byte* buf = stackalloc byte[64];
        nuint length = 99;
        Assert.Equal(Timeout, dapper_ipc_recv(server, buf, 64, &length, null, 30));
        Assert.Equal(0u, length);
        Assert.Equal((int)dapper_ipc_status.DAPPER_IPC_E_INVALID_STATE, dapper_ipc_start_reader(server));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    [Fact]
    public void Cleanup_on_another_thread_ends_a_blocked_recv_with_cancelled()
    {
        var (server, client) = Abi.Pair("tcp");
        var recv = Task.Run(() =>
        {
            byte* buf = stackalloc byte[64];
            nuint length;
            return dapper_ipc_recv(server, buf, 64, &length, null, -1);
        });
        // Wait until the thread is blocked in recv: readable_handle refuses while it is inside.
        Assert.True(SpinWait.SpinUntil(() =>
        {
            nint h;
            return dapper_ipc_readable_handle(server, &h) == (int)dapper_ipc_status.DAPPER_IPC_E_INVALID_STATE;
        }, 20_000));
        Assert.Equal(Ok, dapper_ipc_abort(server));
        Assert.True(recv.Wait(20_000), "the blocked recv did not return");
        Assert.Equal((int)dapper_ipc_status.DAPPER_IPC_E_CANCELLED, recv.Result);
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }
}
