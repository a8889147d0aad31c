using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using DapperIpc.AbiTests.Native;
using static DapperIpc.AbiTests.Native.DapperIpcNative;

namespace DapperIpc.AbiTests;

/// <summary>
/// dapper_ipc_recv_batch: every buffered whole frame in one call, in order, within the
/// caller's limits (cap, max_frames), nothing lost at the edges.
/// </summary>
public unsafe class RecvBatchAbiTests
{
    private const int Ok = (int)dapper_ipc_status.DAPPER_IPC_OK;
    private const int Timeout = (int)dapper_ipc_status.DAPPER_IPC_E_TIMEOUT;
    private const int TooSmall = (int)dapper_ipc_status.DAPPER_IPC_E_BUFFER_TOO_SMALL;
    private const int Protocol = (int)dapper_ipc_status.DAPPER_IPC_E_PROTOCOL;
    private const int Closed = (int)dapper_ipc_status.DAPPER_IPC_E_CLOSED;
    private const int InvalidArgument = (int)dapper_ipc_status.DAPPER_IPC_E_INVALID_ARGUMENT;
    private const int Event = (int)dapper_ipc_kind.DAPPER_IPC_KIND_EVENT;
    private const int Command = (int)dapper_ipc_kind.DAPPER_IPC_KIND_COMMAND;

    public static TheoryData<string> Transports => ["unix", "tcp"];

    private static string Payload(int i) => $"{{\"seq\": {i}}}";

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_burst_comes_in_few_calls_in_order_within_max_frames(string transport)
    {
        var (server, client) = Abi.Pair(transport);
        const int Count = 200;
        Abi.SendBatch(client, Enumerable.Range(0, Count).Select(i => (i % 2 == 0 ? Event : Command, Payload(i))).ToList());

        byte* buf = stackalloc byte[64 * 1024];
        var frames = new dapper_ipc_frame[7];
        int next = 0, calls = 0;
        fixed (dapper_ipc_frame* f = frames)
        {
            while (next < Count)
            {
                nuint count = 99;
                Assert.Equal(Ok, dapper_ipc_recv_batch(server, buf, 64 * 1024, f, 7, &count, 20_000));
                Assert.InRange(count, 1u, 7u);
                calls++;
                byte* expectedAt = buf;
                for (int i = 0; i < (int)count; i++, next++)
                {
                    Assert.True(f[i].payload == expectedAt, "payloads lie back to back from the start of buf");
                    Assert.Equal(next % 2 == 0 ? Event : Command, f[i].kind);
                    Assert.Equal(Payload(next), System.Text.Encoding.UTF8.GetString((byte*)f[i].payload, (int)f[i].length));
                    expectedAt += f[i].length;
                }
            }

            // A 200-frame writev is read in a few socket reads: one call per frame would mean no batching.
            Assert.True(calls < Count / 3, $"{calls} calls for {Count} frames with max_frames 7");
            nuint none = 5;
            Assert.Equal(Timeout, dapper_ipc_recv_batch(server, buf, 64 * 1024, f, 7, &none, 0));
            Assert.Equal(0u, none);
        }

        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public void Frames_beyond_cap_stay_and_a_frame_larger_than_cap_reports_its_size(string transport)
    {
        var (server, client) = Abi.Pair(transport);
        string big = "{\"data\": \"" + new string('x', 5000) + "\"}";
        Assert.Equal(Ok, Abi.Send(client, Event, Payload(0)));  // 11 bytes
        Assert.Equal(Ok, Abi.Send(client, Event, Payload(1)));
        Assert.Equal(Ok, Abi.Send(client, Command, big));
        Assert.Equal(Ok, Abi.Send(client, Event, Payload(2)));

        byte* buf = stackalloc byte[64];
        var frames = new dapper_ipc_frame[16];
        fixed (dapper_ipc_frame* f = frames)
        {
            // cap 15: the first frame fits, the second (11 more bytes) does not, so it stays.
            nuint count = 0;
            Assert.Equal(Ok, dapper_ipc_recv_batch(server, buf, 15, f, 16, &count, 20_000));
            Assert.Equal(1u, count);
            Assert.Equal(Payload(0), System.Text.Encoding.UTF8.GetString((byte*)f[0].payload, (int)f[0].length));
            Assert.Equal(Ok, dapper_ipc_recv_batch(server, buf, 64, f, 16, &count, 20_000));
            Assert.Equal(Payload(1), System.Text.Encoding.UTF8.GetString((byte*)f[0].payload, (int)f[0].length));
            Assert.Equal(1u, count); // the big frame does not fit behind it: it stays
            Assert.Equal(TooSmall, dapper_ipc_recv_batch(server, buf, 64, f, 16, &count, 20_000));

            Assert.Equal(0u, count);
            Assert.Equal((nuint)big.Length, f[0].length);
            Assert.Equal(Command, f[0].kind);
            Assert.True(f[0].payload == null);
            Assert.Equal(TooSmall, dapper_ipc_recv_batch(server, null, 0, f, 16, &count, 0)); // still there

            byte[] whole = new byte[8192];
            fixed (byte* w = whole)
            {
                Assert.Equal(Ok, dapper_ipc_recv_batch(server, w, 8192, f, 16, &count, 0));
                Assert.Equal(big, System.Text.Encoding.UTF8.GetString((byte*)f[0].payload, (int)f[0].length));
                int taken = (int)count;
                if (taken == 1)
                {
                    Assert.Equal(Ok, dapper_ipc_recv_batch(server, w, 8192, f, 16, &count, 20_000));
                    Assert.Equal(Payload(2), System.Text.Encoding.UTF8.GetString((byte*)f[0].payload, (int)f[0].length));
                }
                else
                {
                    Assert.Equal(2, taken);
                    Assert.Equal(Payload(2), System.Text.Encoding.UTF8.GetString((byte*)f[1].payload, (int)f[1].length));
                }
            }
        }

        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    [Fact]
    public void Frames_before_a_bad_header_are_delivered_then_the_error_every_time()
    {
        var server = Abi.Create();
        Assert.Equal(Ok, Abi.Listen(server, "tcp"));
        string[] args = Abi.LauncherArgs(server);
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        raw.Connect(IPAddress.Parse(args[3]), int.Parse(args[5]));
        Assert.Equal(Ok, dapper_ipc_wait_for_client(server, 20_000));

        byte[] good = System.Text.Encoding.UTF8.GetBytes("{}");
        byte[] wire = [(byte)'D', (byte)'P', 1, 1, 0, 0, 0, 2, .. good, (byte)'D', (byte)'P', 1, 1, 0, 0, 0, 2, .. good,
            (byte)'X', (byte)'Y', 1, 1, 0, 0, 0, 2, .. good];
        raw.Send(wire); // one segment: all three land in one read

        byte* buf = stackalloc byte[256];
        var frames = new dapper_ipc_frame[8];
        fixed (dapper_ipc_frame* f = frames)
        {
            int delivered = 0;
            nuint count = 0;
            int status;
            while ((status = dapper_ipc_recv_batch(server, buf, 256, f, 8, &count, 20_000)) == Ok)
            {
                delivered += (int)count;
                for (int i = 0; i < (int)count; i++)
                {
                    Assert.Equal("{}", System.Text.Encoding.UTF8.GetString((byte*)f[i].payload, (int)f[i].length));
                }
            }

            Assert.Equal(2, delivered);
            Assert.Equal(Protocol, status);
            Assert.Equal(0u, count);
            Assert.Contains("DP", Abi.LastError());
            Assert.Equal(Protocol, dapper_ipc_recv_batch(server, buf, 256, f, 8, &count, 0));
        }

        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    [Fact]
    public void Bad_arguments_are_invalid_argument_and_lose_no_frame()
    {
        var (server, client) = Abi.Pair("unix");
        Assert.Equal(Ok, Abi.Send(client, Event, Payload(0)));
        byte* buf = stackalloc byte[64];
        dapper_ipc_frame frame;
        nuint count = 7;
        Assert.Equal(InvalidArgument, dapper_ipc_recv_batch(server, null, 64, &frame, 1, &count, 0));
        Assert.Equal(0u, count);
        Assert.Equal(InvalidArgument, dapper_ipc_recv_batch(server, buf, 64, null, 1, &count, 0));
        Assert.Equal(InvalidArgument, dapper_ipc_recv_batch(server, buf, 64, &frame, 0, &count, 0));
        Assert.Equal(InvalidArgument, dapper_ipc_recv_batch(server, buf, 64, &frame, 1, null, 0));
        Assert.Equal(Ok, dapper_ipc_recv_batch(server, buf, 64, &frame, 1, &count, 20_000));
        Assert.Equal(Payload(0), System.Text.Encoding.UTF8.GetString((byte*)frame.payload, (int)frame.length));

        Assert.Equal(Ok, dapper_ipc_cleanup(client));
        Assert.Equal(Closed, dapper_ipc_recv_batch(server, buf, 64, &frame, 1, &count, 20_000));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }
}
