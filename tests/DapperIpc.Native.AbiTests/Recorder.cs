using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DapperIpc.AbiTests.Native;

namespace DapperIpc.AbiTests;

/// <summary>
/// Callbacks for the C ABI: static UnmanagedCallersOnly functions that find their
/// recorder through the GCHandle passed as user_data.
/// </summary>
internal sealed unsafe class Recorder : IDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private GCHandle _self;

    public Recorder() => _self = GCHandle.Alloc(this);

    public void* UserData => (void*)GCHandle.ToIntPtr(_self);

    public BlockingCollection<(int Kind, string Payload, int ThreadId)> Messages { get; } = new();

    public TaskCompletionSource<(int Status, string Reason)> Disconnected { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ManualResetEventSlim Connected { get; } = new();

    /// <summary>Runs inside the message callback, on the library's reader thread.</summary>
    public Action<int>? OnEach { get; set; }

    public static dapper_ipc_message_cb MessageCallback => new(&OnMessage);

    public static dapper_ipc_state_cb StateCallback => new(&OnState);

    public static dapper_ipc_batch_cb BatchCallback => new(&OnBatch);

    /// <summary>The count of every batch callback, in order (batch mode).</summary>
    public ConcurrentQueue<int> BatchSizes { get; } = new();

    /// <summary>Runs inside the batch callback, on the library's reader thread, after the frames were recorded.</summary>
    public Action? AfterBatch { get; set; }

    private int _nullPayloads;

    /// <summary>Frames the batch callback got with a NULL payload pointer (the header promises none).</summary>
    public int NullPayloads => Volatile.Read(ref _nullPayloads);

    public void InstallBatch(dapper_ipc_manager m)
        => Assert.Equal(0, DapperIpcNative.dapper_ipc_set_batch_callback(m, BatchCallback, StateCallback, UserData));

    public void Install(dapper_ipc_manager m)
        => Assert.Equal(0, DapperIpcNative.dapper_ipc_set_callback(m, MessageCallback, StateCallback, UserData));

    public (int Kind, string Payload, int ThreadId) Next()
    {
        Assert.True(Messages.TryTake(out var m, Wait), "no message arrived");
        return m;
    }

    [UnmanagedCallersOnly]
    private static void OnMessage(void* user, int kind, byte* payload, nuint length)
    {
        var r = (Recorder)GCHandle.FromIntPtr((nint)user).Target!;
        r.Messages.Add((kind, System.Text.Encoding.UTF8.GetString(payload, (int)length), Environment.CurrentManagedThreadId));
        r.OnEach?.Invoke(r.Messages.Count);
    }

    [UnmanagedCallersOnly]
    private static void OnBatch(void* user, dapper_ipc_frame* frames, nuint count)
    {
        var r = (Recorder)GCHandle.FromIntPtr((nint)user).Target!;
        r.BatchSizes.Enqueue((int)count);
        for (nuint i = 0; i < count; i++)
        {
            if (frames[i].payload == null)
            {
                Interlocked.Increment(ref r._nullPayloads); // no assert here: nothing may throw into the library
            }

            r.Messages.Add((frames[i].kind, System.Text.Encoding.UTF8.GetString((byte*)frames[i].payload, (int)frames[i].length),
                Environment.CurrentManagedThreadId));
        }

        r.AfterBatch?.Invoke();
    }

    [UnmanagedCallersOnly]
    private static void OnState(void* user, int @event, int status, byte* reason)
    {
        var r = (Recorder)GCHandle.FromIntPtr((nint)user).Target!;
        if (@event == (int)dapper_ipc_event.DAPPER_IPC_EVENT_CONNECTED)
        {
            r.Connected.Set();
        }
        else
        {
            r.Disconnected.TrySetResult((status, Abi.Text(reason)));
        }
    }

    public void Dispose() => _self.Free();
}
