using System.Collections.Concurrent;
using System.Net.Sockets;
using DapperIpc.Diagnostics;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;
using DapperIpc.Transports.Platform;

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

    /// <summary>Runs on the reader thread inside OnMessages, before the message is recorded.</summary>
    public Action<byte, byte[]>? OnEach { get; set; }

    public bool OneFramePerCall => true;

    public unsafe void OnMessages(ReadOnlySpan<NativeFrame> frames)
    {
        foreach (NativeFrame frame in frames)
        {
            byte[] copy = new ReadOnlySpan<byte>(frame.Payload, (int)frame.Length).ToArray();
            OnEach?.Invoke((byte)frame.Kind, copy);
            Messages.Add(((byte)frame.Kind, copy, Environment.CurrentManagedThreadId, Thread.CurrentThread.Name));
        }
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
        uint clientMax = Framing.FrameHeader.DefaultMaxPayload, bool startReaders = true, int clientSendTimeoutMs = 0)
    {
        Server.SetHandler(ServerHandler);
        Client.SetHandler(ClientHandler);
        Args = Server.CreateListener(new TransportConfig { Transport = transport, MaxFrameSize = serverMax });
        if (startReaders)
        {
            Server.StartReader();
        }

        var clientConfig = ClientConfig(Args, clientMax);
        clientConfig.SendTimeoutMs = clientSendTimeoutMs;
        Client.Connect(clientConfig);
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

/// <summary>Peers that are not the library: plain sockets, for the bytes the library must cope with.</summary>
internal static class RawPeer
{
    public static Socket Connect(IReadOnlyList<string> args)
    {
        if (args[1] == "unix")
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(args[3]));
            return s;
        }

        var t = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        t.Connect(args[3], int.Parse(args[5]));
        return t;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (fails on end of stream first).</summary>
    public static byte[] ReceiveExactly(Socket socket, int count)
    {
        socket.ReceiveTimeout = (int)Wait.Long.TotalMilliseconds;
        var buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = socket.Receive(buffer.AsSpan(got));
            Assert.True(n > 0, $"end of stream after {got} of {count} bytes");
            got += n;
        }

        return buffer;
    }

    /// <summary>True when the peer has closed: a read returns end of stream (or a reset) rather than blocking.</summary>
    public static bool SeesEndOfStream(Socket socket)
    {
        socket.ReceiveTimeout = (int)Wait.Long.TotalMilliseconds;
        try
        {
            return socket.Receive(new byte[64]) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }
}

/// <summary>Sends on a manager until a send fails; the failure's status and message.</summary>
internal static class SendLoop
{
    public static (IpcStatus Status, string Message) UntilFailure(IPCManager manager)
    {
        for (int i = 0; i < 1_000_000; i++)
        {
            try
            {
                manager.Send(FrameKind.Event, Json.Bytes("{\"event\": \"tick\"}"));
            }
            catch (IpcException e)
            {
                return (e.Status, e.Message);
            }
        }

        throw new Xunit.Sdk.XunitException("the connection never closed");
    }
}

/// <summary>Asserts that what a unix listener created on disk is gone.</summary>
internal static class SocketFiles
{
    /// <summary>Nothing at the path: lstat through the C shim on POSIX; on Windows, which has
    /// no shim, what .NET sees (an AF_UNIX socket file is a file there).</summary>
    public static bool IsGone(string path)
        => OperatingSystem.IsWindows() ? !File.Exists(path) && !Directory.Exists(path) : PosixFileKind.Of(path) == FileKind.Missing;

    /// <summary>For unix launcher args: the socket file is gone, and so is its directory when the library made it.</summary>
    public static void AssertGone(IReadOnlyList<string> args, bool ownDirectory = true)
    {
        if (args[1] != "unix")
        {
            return;
        }

        string path = args[3];
        Assert.True(IsGone(path), $"{path} was left behind");
        string dir = Path.GetDirectoryName(path)!;
        if (ownDirectory)
        {
            Assert.StartsWith("dapper-", Path.GetFileName(dir));
            Assert.False(Directory.Exists(dir), $"{dir} was left behind");
        }
    }
}

/// <summary>Looks inside a manager, for tests that must know a wait has begun before they act.</summary>
internal static class ManagerProbe
{
    /// <summary>Waits until some thread is accepting on the manager's listener.</summary>
    public static void WaitUntilAccepting(IPCManager manager)
        => Assert.True(SpinWait.SpinUntil(() => manager.IsAccepting, Wait.Long), "nobody started accepting");
}

/// <summary>A loopback tcp port nobody listens on: bound by a listener that is then closed.</summary>
internal static class ClosedPort
{
    public static int Take()
    {
        using var probe = Factory.TransportFactory.CreateListener(new Factory.TransportConfig { Transport = "tcp" });
        return int.Parse(probe.LauncherArgs[5]);
    }
}
