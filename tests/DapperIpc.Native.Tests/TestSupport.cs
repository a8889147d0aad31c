using System.Collections.Concurrent;
using DapperIpc.Diagnostics;
using DapperIpc.Factory;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

internal static class Wait
{
    /// <summary>Generous: these waits end on events; the bound only keeps a broken build from hanging.</summary>
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(20);
}

/// <summary>Records what the reader thread reports.</summary>
internal sealed class RecordingHandler : IConnectionHandler
{
    public BlockingCollection<(byte Kind, byte[] Payload, int ThreadId, string? ThreadName)> Messages { get; } = new();

    public ManualResetEventSlim Connected { get; } = new();

    public TaskCompletionSource<(IpcStatus Status, string Reason)> Disconnected { get; } =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Runs on the reader thread inside OnMessage, before the message is recorded.</summary>
    public Action<byte, byte[]>? OnEach { get; set; }

    public void OnMessage(byte kind, ReadOnlySpan<byte> payload)
    {
        byte[] copy = payload.ToArray();
        OnEach?.Invoke(kind, copy);
        Messages.Add((kind, copy, Environment.CurrentManagedThreadId, Thread.CurrentThread.Name));
    }

    public void OnConnectionEvent(ConnectionEvent connectionEvent, IpcStatus status, string reason)
    {
        if (connectionEvent == ConnectionEvent.Connected)
        {
            Connected.Set();
        }
        else
        {
            Disconnected.TrySetResult((status, reason));
        }
    }

    public (byte Kind, byte[] Payload, int ThreadId, string? ThreadName) Next()
    {
        Assert.True(Messages.TryTake(out var m, Wait.Long), "no message arrived");
        return m;
    }

    public (IpcStatus Status, string Reason) WaitDisconnected()
    {
        Assert.True(Disconnected.Task.Wait(Wait.Long), "no disconnect was reported");
        return Disconnected.Task.Result;
    }
}

/// <summary>A listener manager and a client manager connected to it, both readers running.</summary>
internal sealed class ConnectedPair : IDisposable
{
    public IPCManager Server { get; } = new();
    public IPCManager Client { get; } = new();
    public RecordingHandler ServerHandler { get; } = new();
    public RecordingHandler ClientHandler { get; } = new();
    public IReadOnlyList<string> Args { get; }

    public ConnectedPair(string transport, uint serverMax = Framing.FrameHeader.DefaultMaxPayload,
        uint clientMax = Framing.FrameHeader.DefaultMaxPayload, bool startReaders = true)
    {
        Server.SetHandler(ServerHandler);
        Client.SetHandler(ClientHandler);
        Args = Server.CreateListener(new TransportConfig { Transport = transport, MaxFrameSize = serverMax });
        if (startReaders)
        {
            Server.StartReader();
        }

        Client.Connect(ClientConfig(Args, clientMax));
        Server.WaitForClient((int)Wait.Long.TotalMilliseconds);
        if (startReaders)
        {
            Client.StartReader();
        }
    }

    public static TransportConfig ClientConfig(IReadOnlyList<string> args, uint max = Framing.FrameHeader.DefaultMaxPayload)
        => args[1] == "unix"
            ? new TransportConfig { Transport = "unix", Path = args[3], MaxFrameSize = max }
            : new TransportConfig { Transport = "tcp", Host = args[3], Port = int.Parse(args[5]), MaxFrameSize = max };

    public void Dispose()
    {
        Client.Cleanup();
        Server.Cleanup();
    }
}

/// <summary>Collects log messages; used only by tests in the non-parallel "Log" collection.</summary>
internal sealed class LogCapture : ILogSink, IDisposable
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public LogCapture() => Log.SetSink(this, LogLevel.Debug);

    /// <summary>Set when a client connect logs that it is retrying.</summary>
    public ManualResetEventSlim Retried { get; } = new();

    public void Write(LogLevel level, string message)
    {
        Entries.Enqueue((level, message));
        if (message.Contains("retrying", StringComparison.Ordinal))
        {
            Retried.Set();
        }
    }

    public void Dispose() => Log.SetSink(null, LogLevel.Debug);
}

[CollectionDefinition("Log", DisableParallelization = true)]
public sealed class LogCollection;

internal static class Json
{
    public static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    public static string Text(byte[] b) => System.Text.Encoding.UTF8.GetString(b);
}
