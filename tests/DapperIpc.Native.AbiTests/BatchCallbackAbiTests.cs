using System.Runtime.InteropServices;
using DapperIpc.AbiTests.Native;
using static DapperIpc.AbiTests.Native.DapperIpcNative;

namespace DapperIpc.AbiTests;

/// <summary>dapper_ipc_set_batch_callback: the frames of each read in one call, in order, on the reader thread.</summary>
public unsafe class BatchCallbackAbiTests
{
    private const int Ok = (int)dapper_ipc_status.DAPPER_IPC_OK;
    private const int Event = (int)dapper_ipc_kind.DAPPER_IPC_KIND_EVENT;
    private const int Command = (int)dapper_ipc_kind.DAPPER_IPC_KIND_COMMAND;

    public static TheoryData<string> Transports => ["unix", "tcp"];

    [Theory]
    [MemberData(nameof(Transports))]
    public void A_burst_arrives_whole_and_in_order_in_fewer_calls_than_frames(string transport)
    {
        using var recorder = new Recorder();
        var server = Abi.Create();
        recorder.InstallBatch(server);
        Assert.Equal(Ok, Abi.Listen(server, transport));
        Assert.Equal(Ok, dapper_ipc_start_reader(server));
        var client = Abi.Create();
        Assert.Equal(Ok, Abi.Connect(client, Abi.LauncherArgs(server)));
        Assert.True(recorder.Connected.Wait(Recorder.Wait), "no connected event");

        const int Count = 1000;
        Abi.SendBatch(client, Enumerable.Range(0, Count).Select(i => (i % 2 == 0 ? Event : Command, i == 7 ? "" : $"{i}")).ToList());
        for (int i = 0; i < Count; i++)
        {
            var (kind, payload, _) = recorder.Next();
            Assert.Equal(i == 7 ? "" : $"{i}", payload);
            Assert.Equal(i % 2 == 0 ? Event : Command, kind);
        }

        int[] sizes = recorder.BatchSizes.ToArray();
        Assert.Equal(Count, sizes.Sum());
        Assert.All(sizes, n => Assert.InRange(n, 1, 256));
        // 1,000 small frames in one writev: a per-frame callback would take 1,000 calls.
        Assert.True(sizes.Length < Count / 4, $"{sizes.Length} batch calls for {Count} frames");
        Assert.Equal(0, recorder.NullPayloads);

        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }

    [Fact]
    public void Cleanup_inside_the_batch_callback_ends_the_callbacks()
    {
        using var recorder = new Recorder();
        var server = Abi.Create();
        recorder.InstallBatch(server);
        Assert.Equal(Ok, Abi.Listen(server, "unix"));
        Assert.Equal(Ok, dapper_ipc_start_reader(server));
        var client = Abi.Create();
        Assert.Equal(Ok, Abi.Connect(client, Abi.LauncherArgs(server)));
        Assert.True(recorder.Connected.Wait(Recorder.Wait), "no connected event");

        int cleanups = 0;
        var cleaned = new ManualResetEventSlim();
        recorder.AfterBatch = () =>
        {
            if (Interlocked.Increment(ref cleanups) == 1)
            {
                dapper_ipc_cleanup(server);
                cleaned.Set();
            }
        };
        Assert.Equal(Ok, Abi.Send(client, Event, "first"));
        Assert.True(cleaned.Wait(Recorder.Wait), "the batch callback never ran");
        _ = Abi.Send(client, Event, "after cleanup"); // E_CLOSED once the end-of-file landed; no callback either way
        Assert.Equal(Ok, dapper_ipc_cleanup(server)); // joins the reader: no callback can come after this
        Assert.Equal(1, Volatile.Read(ref cleanups));
        Assert.Equal([1], recorder.BatchSizes.ToArray());
        Assert.Equal(Ok, dapper_ipc_manager_destroy(client));
        Assert.Equal(Ok, dapper_ipc_manager_destroy(server));
    }
}
