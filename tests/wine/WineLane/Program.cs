// The Wine lane: the Windows pipe transport (WindowsPipeServer, WindowsPipeIo, PipeListener,
// PipeConnector, through IPCManager) against pipe_client.exe, a C client that makes exactly
// the calls CPython's multiprocessing.connection makes. Each check prints PASS, FAIL or
// SKIP (a check this OS cannot make: never counted as passed). Exit 1 if any check failed.
//
//   WineLane.exe CLIENT_EXE [CHECK...]
using System.Buffers.Binary;
using System.Diagnostics;
using DapperIpc;
using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Diagnostics;
using DapperIpc.Manager;
using DapperIpc.Sessions;

if (args.Length == 2 && args[0] == "peer-beat")
{
    return PeerBeat(args[1]);
}

string client = args.Length > 0 ? args[0] : throw new ArgumentException("usage: WineLane CLIENT_EXE [CHECK...]");
var only = args.Skip(1).ToHashSet();
int failed = 0, passed = 0, skipped = 0;
var probe = Probe(client);
(bool Logged, string Message)? refusedPid = null;

Check("frames of 0 B to 4 MiB+ cross whole, one message each, echoed by the host", EchoSizes);
Check("2000 frames each way at once, in order, every byte checked", BothWays);
Check("cleanup: the client reads every frame sent before it, then end-of-file", CleanupGivesEof);
Check("garbage from the client: protocol error, and the client gets end-of-file", Garbage);
Check("cleanup while another thread waits for a client: the wait ends Cancelled", CleanupDuringWait);
Check("a second listener on a live name fails with AddressInUse (the one-instance limit)", SecondListener);
Check("a name a squatter created first is refused (FILE_FLAG_FIRST_PIPE_INSTANCE)", () =>
    probe["first-instance"] == "yes" ? Squatter()
        : Skip("this OS ignores FILE_FLAG_FIRST_PIPE_INSTANCE (the probe made a second instance with the flag)"));
Check("remote clients are rejected (PIPE_REJECT_REMOTE_CLIENTS)", () =>
    Skip($"no remote client can be made on one machine; the flag is {probe["reject-remote"]} by CreateNamedPipe here (Wine does not implement it)"));
Check("another user cannot open the pipe (owner-only DACL)", () =>
    Skip("Wine has a single user; Windows runners check only that this user can connect"));
Check("the managed client (PipeConnector) connects, checks the owner, and talks both ways", ManagedClient);
Check("the first frame arrives promptly while the thread pool is saturated", FirstFrameWithPoolSaturated);
Check("the managed client against an AF_PIPE listener making multiprocessing's calls, with this user as the owner: frames of 0 B to 4 MiB+ echoed, one message each; end-of-file at cleanup", () =>
    ClientOfCPythonListener(owned: true));
Check("the managed client against a multiprocessing.connection AF_PIPE listener: frames of 0 B to 4 MiB+ echoed, one message each; end-of-file at cleanup", () =>
    probe["default-owner"] == "yes" ? ClientOfCPythonListener(owned: false)
        : Skip("this OS gives a pipe made with default security (as multiprocessing makes it) no owner, and the client refuses a pipe whose owner it cannot check (the 'reports no owner' check)"));
Check("unix sockets on Windows: a listener at a caller-given path talks to a client; a path that exists is refused (PathExists), not replaced", UnixCallerPath);
Check("readable handle over tcp: an event not signalled with nothing sent, a blocking recv unhindered by its pending zero-byte read, signalled for every frame of a 50-frame burst until recv(0) took it, not signalled once drained, signalled at the peer's close; signalled when made with a frame already in the library's buffer; cleanup with its zero-byte read pending cancels it and closes the event", () =>
    ReadableHandle("tcp"));
Check("readable handle over unix sockets: the same as over tcp", () =>
    System.Net.Sockets.Socket.OSSupportsUnixDomainSockets ? ReadableHandle("unix")
        : Skip("this OS has no AF_UNIX sockets (.NET says so)"));
Check("readable handle over a pipe: Unsupported (recv with a timeout is unsupported on pipes)", ReadableHandlePipeUnsupported);
Check("a pipe that reports no owner is refused with ConnectionRefused, never a crash", () =>
    probe["default-owner"] == "no" ? OwnerlessPipeRefused()
        : Skip("every pipe has an owner on this OS (the probe's pipe made with default security had one)"));

Check("session listener on a pipe: 8 launcher processes connecting at once are each routed by their hello to their own session, frames both ways, no cross-talk; an unknown id, and a client silent past the hello deadline, are refused (the client sees the pipe closed) while the others go on; cleanup ends them all", SessionsOnOnePipe);
Check("session listener on a pipe: a refused client is logged with its pid (GetNamedPipeClientProcessId)", () =>
    refusedPid is null ? Skip("the session check did not run or failed")
        : refusedPid.Value.Logged ? null
        : Skip($"this OS does not tell a pipe server its client's pid (GetNamedPipeClientProcessId); the refusal was logged without it: {refusedPid.Value.Message}"));
Check("session listener on a pipe: two managed clients (PipeConnector, which checks the owner of each instance) are routed to their own sessions and talk both ways", ManagedSessionClients);
Check("session listener on a pipe: a second listener on its live name fails with AddressInUse (FILE_FLAG_FIRST_PIPE_INSTANCE)", () =>
    probe["first-instance"] == "yes" ? SecondSessionListener()
        : Skip("this OS ignores FILE_FLAG_FIRST_PIPE_INSTANCE (the probe made a second instance with the flag), so a second listener of unlimited instances joins the name"));
Check("session listener on a pipe: remote clients are rejected on every instance (PIPE_REJECT_REMOTE_CLIENTS)", () =>
    Skip($"no remote client can be made on one machine; the flag is {probe["reject-remote"]} by CreateNamedPipe here (Wine does not implement it)"));

Check("heartbeats over a pipe: a peer of this library frozen (NtSuspendProcess, Windows' SIGSTOP) is declared dead: Disconnected with Timeout and \"peer unresponsive for N ms\"", FrozenPipePeer);

Console.WriteLine($"wine lane: {passed} passed, {skipped} skipped, {failed} failed");
return failed == 0 ? 0 : 1;

void Check(string name, Func<string?> run)
{
    if (only.Count > 0 && !only.Any(o => name.Contains(o, StringComparison.OrdinalIgnoreCase)))
    {
        return;
    }

    var clock = Stopwatch.StartNew();
    try
    {
        string? skip = run();
        if (skip is not null)
        {
            skipped++;
            Console.WriteLine($"SKIP {name}: {skip}");
        }
        else
        {
            passed++;
            Console.WriteLine($"PASS {name} ({clock.ElapsedMilliseconds} ms)");
        }
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"FAIL {name} ({clock.ElapsedMilliseconds} ms): {e.GetType().Name}: {e.Message}");
        Console.WriteLine(e.StackTrace); // where: a failure under Wine cannot be re-run in a debugger here
    }
}

static string? Skip(string reason) => reason;

static void Require(bool condition, string message)
{
    if (!condition)
    {
        throw new InvalidOperationException(message);
    }
}

Dictionary<string, string> Probe(string exe)
{
    var result = new Dictionary<string, string> { ["first-instance"] = "unknown", ["reject-remote"] = "unknown", ["default-owner"] = "unknown" };
    var (code, output) = RunClient(exe, ["probe", @"\\.\pipe\dapper-wine-probe-" + Environment.ProcessId], TimeSpan.FromSeconds(30));
    foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    {
        int colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0)
        {
            result[line[..colon]] = line[(colon + 1)..].Trim();
        }
    }

    Console.WriteLine($"probe (exit {code}): FILE_FLAG_FIRST_PIPE_INSTANCE enforced: {result["first-instance"]}; PIPE_REJECT_REMOTE_CLIENTS {result["reject-remote"]}; a pipe made with default security has an owner: {result["default-owner"]}");
    return result;
}

(int Code, string Output) RunClient(string exe, string[] clientArgs, TimeSpan timeout)
{
    using var p = StartClient(exe, clientArgs);
    var output = p.StandardOutput.ReadToEndAsync();
    var error = p.StandardError.ReadToEndAsync();
    if (!p.WaitForExit(timeout))
    {
        p.Kill();
        throw new TimeoutException($"pipe_client {string.Join(' ', clientArgs)} did not finish in {timeout.TotalSeconds} s");
    }

    p.WaitForExit();
    return (p.ExitCode, output.Result + error.Result);
}

Process StartClient(string exe, string[] clientArgs)
{
    var info = new ProcessStartInfo(exe, clientArgs)
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        RedirectStandardInput = true,
        UseShellExecute = false,
    };
    return Process.Start(info)!;
}

void ExpectClient(Process p, TimeSpan timeout, string what)
{
    var output = p.StandardOutput.ReadToEndAsync();
    var error = p.StandardError.ReadToEndAsync();
    if (!p.WaitForExit(timeout))
    {
        p.Kill();
        throw new TimeoutException($"the client ({what}) did not finish in {timeout.TotalSeconds} s");
    }

    p.WaitForExit();
    Require(p.ExitCode == 0, $"the client ({what}) failed, exit {p.ExitCode}: {output.Result}{error.Result}".Trim());
}

static byte Pattern(uint seq, uint i) => (byte)(seq * 131u + i * 7u + (i >> 8));

static byte[] Payload(uint seq, int length)
{
    var p = new byte[length];
    for (int i = 0; i < length; i++)
    {
        p[i] = Pattern(seq, (uint)i);
    }

    if (length >= 4)
    {
        BinaryPrimitives.WriteUInt32BigEndian(p, seq);
    }

    return p;
}

// A peer process of this library with heartbeats: connects to the pipe, reads, and
// answers heartbeats until it is killed.
static int PeerBeat(string pipe)
{
    var m = new IPCManager();
    m.SetHandler(new Handler());
    m.Connect(new TransportConfig { Transport = "pipe", PipeName = pipe, ConnectTimeoutMs = 20_000, HeartbeatMs = 100 });
    m.StartReader();
    Console.WriteLine("connected");
    Thread.Sleep(Timeout.Infinite);
    return 0;
}

string? FrozenPipePeer()
{
    var handler = new Handler();
    using var m = new IPCManager();
    m.SetHandler(handler);
    var launcher = m.CreateListener(new TransportConfig { Transport = "pipe", HeartbeatMs = 100 });
    using var peer = Process.Start(new ProcessStartInfo(Environment.ProcessPath!, ["peer-beat", launcher[3]])
    {
        UseShellExecute = false,
        RedirectStandardOutput = true,
    })!;
    try
    {
        m.WaitForClient(30_000);
        m.StartReader();
        Require(peer.StandardOutput.ReadLine() == "connected", "the peer did not connect");
        var clock = Stopwatch.StartNew();
        while (m.GetStats().HeartbeatRttUs < 0 && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            handler.Disconnected.Wait(10);
        }

        Require(m.GetStats().HeartbeatRttUs >= 0, "no heartbeat was answered");
        Require(NtSuspendProcess(peer.Handle) == 0, "NtSuspendProcess failed");
        var frozen = Stopwatch.StartNew();
        Require(handler.Disconnected.Wait(TimeSpan.FromSeconds(30)), "the frozen peer was not declared dead");
        Console.WriteLine($"  detected {frozen.ElapsedMilliseconds} ms after the freeze (heartbeat_ms 100): {handler.DisconnectReason}");
        Require(handler.DisconnectStatus == IpcStatus.Timeout, $"status {handler.DisconnectStatus}, expected Timeout");
        Require(System.Text.RegularExpressions.Regex.IsMatch(handler.DisconnectReason, @"^peer unresponsive for \d+ ms$"),
            $"reason: {handler.DisconnectReason}");
        return null;
    }
    finally
    {
        peer.Kill();
        NtResumeProcess(peer.Handle);
        peer.WaitForExit();
    }
}

[System.Runtime.InteropServices.DllImport("ntdll.dll")]
static extern int NtSuspendProcess(IntPtr process);

[System.Runtime.InteropServices.DllImport("ntdll.dll")]
static extern int NtResumeProcess(IntPtr process);

static (IPCManager Manager, string Pipe) Listen(Handler handler, string? name = null)
{
    var m = new IPCManager();
    m.SetHandler(handler);
    var launcher = m.CreateListener(new TransportConfig { Transport = "pipe", PipeName = name });
    Require(launcher.Count == 4 && launcher[2] == "--ipc-pipe", "launcher args: " + string.Join(' ', launcher));
    return (m, launcher[3]);
}

// On Windows the Python and Node suites' listening peer is multiprocessing.connection's
// AF_PIPE Listener (CPython has no AF_UNIX there): the library is the pipe's client.
// owned: a security descriptor naming this user the owner, the listener's one difference
// from multiprocessing's (which passes none: Windows then makes the token's default owner
// the pipe's owner; Wine makes none).
string? ClientOfCPythonListener(bool owned)
{
    string pipe = @"\\.\pipe\dapper-wine-listener-" + Environment.ProcessId + (owned ? "-owned" : "");
    using var p = StartClient(client, owned ? ["listen", pipe, "owned"] : ["listen", pipe]);
    string? said = p.StandardOutput.ReadLine();
    Require(said == "listening", $"the listener said {said ?? "nothing"}");
    var atClient = new Handler();
    using var c = new IPCManager();
    c.SetHandler(atClient);
    c.Connect(new TransportConfig { Transport = "pipe", PipeName = pipe, ConnectTimeoutMs = 10_000 });
    c.StartReader();
    int[] sizes = [0, 1, 127, 128, 129, 8192, 8193, 65536, 1 << 20, (4 << 20) + 7];
    for (int k = 0; k < sizes.Length; k++)
    {
        byte[] sent = Payload((uint)k, sizes[k]);
        c.Send(1, sent);
        Require(atClient.WaitFrames(k + 1, TimeSpan.FromSeconds(30)), $"the echo of {sizes[k]} bytes did not come back");
        Require(atClient.Last.AsSpan().SequenceEqual(sent), $"the echo of {sizes[k]} bytes differs");
    }

    c.Cleanup();
    ExpectClient(p, TimeSpan.FromSeconds(30), "listen");
    return null;
}

// Wine: the AF_PIPE listener's pipe has no owner; the client must refuse it cleanly.
string? OwnerlessPipeRefused()
{
    string pipe = @"\\.\pipe\dapper-wine-ownerless-" + Environment.ProcessId;
    using var p = StartClient(client, ["listen", pipe]);
    string? said = p.StandardOutput.ReadLine();
    Require(said == "listening", $"the listener said {said ?? "nothing"}");
    using var c = new IPCManager();
    try
    {
        c.Connect(new TransportConfig { Transport = "pipe", PipeName = pipe, ConnectTimeoutMs = 10_000 });
        throw new InvalidOperationException("the client connected to a pipe whose owner it could not check");
    }
    catch (IpcException e) when (e.Status == IpcStatus.ConnectionRefused && e.Message.Contains("no owner", StringComparison.Ordinal))
    {
        Console.WriteLine($"  refused: {e.Message}");
    }

    ExpectClient(p, TimeSpan.FromSeconds(30), "listen"); // the refused client closed its end: end-of-file
    return null;
}

// Windows keeps .NET's AF_UNIX socket; a caller-given path must not reach the POSIX C
// shim (lstat), which is not built for Windows.
string? UnixCallerPath()
{
    if (!System.Net.Sockets.Socket.OSSupportsUnixDomainSockets)
    {
        return Skip("this OS has no AF_UNIX sockets (.NET says so; the library then listens on tcp, as documented)");
    }

    string dir = Directory.CreateTempSubdirectory("dapper-wine-unix-").FullName;
    try
    {
        string path = Path.Combine(dir, "ipc.sock");
        var atServer = new Handler();
        using var server = new IPCManager();
        server.SetHandler(atServer);
        var launcher = server.CreateListener(new TransportConfig { Transport = "unix", Path = path });
        Require(launcher[1] == "unix" && launcher[3] == path, "launcher args: " + string.Join(' ', launcher));
        using var client = new IPCManager();
        client.Connect(new TransportConfig { Transport = "unix", Path = path, ConnectTimeoutMs = 10_000 });
        server.WaitForClient(20_000);
        server.StartReader();
        client.Send(1, Payload(3, 1000));
        Require(atServer.WaitFrames(1, TimeSpan.FromSeconds(30)), "the frame did not arrive");
        using var second = new IPCManager();
        var refused = Refusal(() => second.CreateListener(new TransportConfig { Transport = "unix", Path = path }));
        Require(refused.Status == IpcStatus.PathExists, $"a second listener at an existing path: {refused.Status} ({refused.Message})");
        return null;
    }
    finally
    {
        Directory.Delete(dir, recursive: true);
    }
}

// The pull mode's readable handle on Windows is an event that a zero-byte
// overlapped WSARecv sets while the socket has bytes and the library sets while it holds a
// whole frame; WaitForSingleObject(h, 0) must agree with recv(timeout 0) at every step.
string? ReadableHandle(string transport)
{
    var log = new LogCollector();
    Log.SetSink(log, LogLevel.Warning);
    string? dir = transport == "unix" ? Directory.CreateTempSubdirectory("dapper-wine-pull-").FullName : null;
    try
    {
        var config = dir is null ? new TransportConfig { Transport = "tcp" }
            : new TransportConfig { Transport = "unix", Path = Path.Combine(dir, "ipc.sock") };
        ReadableThroughABurst(config);
        ReadableWhenMadeWithAFrameBuffered(config);
        // Cleanup while the zero-byte read is pending (both ends open, nothing sent): the
        // read is cancelled and waited for before its OVERLAPPED is freed.
        for (int round = 0; round < 5; round++)
        {
            var (server, client) = PullPair(config);
            using (client)
            {
                nint h = server.ReadableHandle();
                Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_TIMEOUT, "signalled with nothing sent");
                server.Abort(); // no linger: the peer stays open
                Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_FAILED, "the event is still open after cleanup");
            }
        }

        string? kept = log.Wait("readable handle", TimeSpan.Zero);
        Require(kept is null, $"cleanup left a read pending: {kept}");
        return null;
    }
    finally
    {
        Log.SetSink(null, LogLevel.Warning);
        if (dir is not null)
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

// WaitForSingleObject(h, 0) agrees with recv(timeout 0) at every step, from nothing sent
// through a burst (most of it lands in the library's buffer in one read) to the peer's close.
static void ReadableThroughABurst(TransportConfig config)
{
    var (server, client) = PullPair(config);
    using (server)
    using (client)
    {
        nint h = server.ReadableHandle();
        Require(h == server.ReadableHandle(), "the same handle every time");
        Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_TIMEOUT, "signalled with nothing sent");
        var buffer = new byte[64 * 1024];
        var frames = new ReceivedFrame[1];
        Require(server.Recv(buffer, frames, out _, 0) == IpcStatus.Timeout, "recv(0) with nothing sent");
        Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_TIMEOUT, "signalled after a recv that found nothing");

        // A blocking recv (no timeout) behind the pending zero-byte read still gets the frame.
        byte[] first = Payload(99, 10_000);
        client.Send(1, first);
        Require(server.Recv(buffer, frames, out _, -1) == IpcStatus.Ok && buffer.AsSpan(0, frames[0].Length).SequenceEqual(first), "a blocking recv");
        Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_TIMEOUT, "signalled after the blocking recv took the only frame");

        const int Count = 50;
        var burst = Enumerable.Range(0, Count).Select(i => Payload((uint)i, 100 + i)).ToArray();
        foreach (byte[] frame in burst)
        {
            client.Send(1, frame);
        }

        for (int i = 0; i < Count; i++)
        {
            Require(Kernel32.WaitForSingleObject(h, 20_000) == 0, $"not signalled before frame {i}");
            IpcStatus status = server.Recv(buffer, frames, out int count, 0);
            Require(status == IpcStatus.Ok && count == 1, $"signalled, but recv(0) of frame {i} returned {status}");
            Require(buffer.AsSpan(0, frames[0].Length).SequenceEqual(burst[i]), $"frame {i} differs");
        }

        Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_TIMEOUT, "signalled with every frame taken");
        Require(server.Recv(buffer, frames, out _, 0) == IpcStatus.Timeout, "recv(0) after draining");
        Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_TIMEOUT, "signalled after the recv that found nothing");

        // The peer leaves: signalled, and recv reports it at once, every time (level).
        client.Cleanup();
        Require(Kernel32.WaitForSingleObject(h, 20_000) == 0, "not signalled at the peer's close");
        for (int i = 0; i < 2; i++)
        {
            var closed = Refusal(() => server.Recv(buffer, frames, out _, 0));
            Require(closed.Status == IpcStatus.Closed, $"recv(0) after the peer's close: {closed.Status}");
            Require(Kernel32.WaitForSingleObject(h, 0) == 0, "not signalled after recv returned Closed");
        }

        server.Cleanup();
        Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_FAILED, "the event is still open after cleanup");
    }
}

// A frame already in the library's buffer when the handle is made (the socket empty): the
// library sets the event itself. Both frames leave in one send from a raw socket, so the
// read that brings the first brings the second.
static void ReadableWhenMadeWithAFrameBuffered(TransportConfig config)
{
    using var server = new IPCManager();
    var launcher = server.CreateListener(config);
    bool tcp = config.Transport == "tcp";
    using var raw = new System.Net.Sockets.Socket(tcp ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.Unix,
        System.Net.Sockets.SocketType.Stream, tcp ? System.Net.Sockets.ProtocolType.Tcp : System.Net.Sockets.ProtocolType.Unspecified);
    raw.Connect(tcp ? new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, TcpPort(launcher))
        : new System.Net.Sockets.UnixDomainSocketEndPoint(config.Path!));
    server.WaitForClient(20_000);
    byte[] a = Payload(1, 200), b = Payload(2, 300);
    var both = new byte[2 * FrameHeader.Size + a.Length + b.Length];
    FrameHeader.Write(both, 1, (uint)a.Length);
    a.CopyTo(both, FrameHeader.Size);
    FrameHeader.Write(both.AsSpan(FrameHeader.Size + a.Length), 1, (uint)b.Length);
    b.CopyTo(both, 2 * FrameHeader.Size + a.Length);
    Require(raw.Send(both) == both.Length, "the raw send was cut");
    var buffer = new byte[1024];
    var frames = new ReceivedFrame[1];
    Require(server.Recv(buffer, frames, out _, 20_000) == IpcStatus.Ok && buffer.AsSpan(0, frames[0].Length).SequenceEqual(a), "the first frame");
    nint h = server.ReadableHandle();
    Require(Kernel32.WaitForSingleObject(h, 20_000) == 0, "not signalled with the second frame in the library's buffer");
    Require(server.Recv(buffer, frames, out _, 0) == IpcStatus.Ok && buffer.AsSpan(0, frames[0].Length).SequenceEqual(b), "the second frame");
    Require(Kernel32.WaitForSingleObject(h, 0) == Kernel32.WAIT_TIMEOUT, "signalled with both frames taken");
    server.Abort();
}

static int TcpPort(IReadOnlyList<string> launcher) => int.Parse(launcher[launcher.ToList().IndexOf("--ipc-port") + 1]);

// A listener in the pull mode (no reader) and a connected client, over config's transport.
static (IPCManager Server, IPCManager Client) PullPair(TransportConfig config)
{
    var server = new IPCManager();
    var launcher = server.CreateListener(config);
    var client = new IPCManager();
    client.Connect(config.Transport == "tcp"
        ? new TransportConfig { Transport = "tcp", Port = TcpPort(launcher), ConnectTimeoutMs = 10_000 }
        : new TransportConfig { Transport = config.Transport, Path = config.Path, PipeName = launcher[^1], ConnectTimeoutMs = 10_000 });
    server.WaitForClient(20_000);
    return (server, client);
}

string? ReadableHandlePipeUnsupported()
{
    var (server, client) = PullPair(new TransportConfig { Transport = "pipe" });
    using (server)
    using (client)
    {
        var refused = Refusal(() => server.ReadableHandle());
        Require(refused.Status == IpcStatus.Unsupported, $"readable_handle over a pipe: {refused.Status} ({refused.Message})");
        return null;
    }
}

// Subprocess sessions over the pipe transport: one session listener's pipe, many instances of its
// name, each client routed by its hello. The clients are separate processes started at once.
string? SessionsOnOnePipe()
{
    const int Clients = 8, Count = 20;
    var log = new LogCollector();
    Log.SetSink(log, LogLevel.Warning);
    try
    {
        using var sessions = new SessionListener();
        sessions.SetHelloLimits(2000, SessionListener.DefaultMaxHelloSize);
        var launcher = sessions.Listen(new TransportConfig { Transport = "pipe" });
        Require(launcher.Count == 4 && launcher[1] == "pipe" && launcher[2] == "--ipc-pipe", "launcher args: " + string.Join(' ', launcher));
        string pipe = launcher[3];
        string[] ids = [.. Enumerable.Range(0, Clients).Select(i => $"wine-{i}")];
        foreach (string id in ids)
        {
            sessions.Expect(id);
        }

        var children = ids.Select(id => StartClient(client, ["session", pipe, id, Count.ToString(System.Globalization.CultureInfo.InvariantCulture)])).ToList();
        using var stranger = StartClient(client, ["refused", pipe, "nobody-expected-me"]);
        using var silent = StartClient(client, ["silent", pipe]);
        try
        {
            var managers = new List<IPCManager>();
            var handlers = new List<Handler>();
            foreach (string id in ids)
            {
                IPCManager m = sessions.Accept(id, 60_000);
                Require(m.Hello is not null && SessionHello.TryParse(m.Hello, out SessionHello hello, out _) && hello.SessionId == id,
                    $"session {id}'s manager holds another hello");
                var handler = new Handler();
                m.SetHandler(handler);
                m.StartReader();
                managers.Add(m);
                handlers.Add(handler);
            }

            // The unknown id is refused and its client sees end-of-file, with every session open
            // (the refusal is logged right after the pipe is closed).
            ExpectClient(stranger, TimeSpan.FromSeconds(60), "refused");
            string? refusal = log.Wait("nobody-expected-me", TimeSpan.FromSeconds(30));
            Require(refusal is not null, "the refusal of the unknown id was not logged");
            refusedPid = (refusal!.Contains($"(peer pid {stranger.Id})", StringComparison.Ordinal), refusal);
            // A client that sends nothing is refused at the hello deadline (a pipe read with a timeout).
            ExpectClient(silent, TimeSpan.FromSeconds(60), "silent");
            Require(log.Wait("no whole hello within 2000 ms", TimeSpan.FromSeconds(30)) is not null, "the silent client's refusal was not logged");

            for (int i = 0; i < Clients; i++)
            {
                for (int k = 0; k < Count; k++)
                {
                    managers[i].Send(1, System.Text.Encoding.UTF8.GetBytes($"{{\"to\":\"{ids[i]}\",\"n\":{k}}}"));
                }
            }

            for (int i = 0; i < Clients; i++)
            {
                Require(handlers[i].WaitFrames(Count, TimeSpan.FromSeconds(60)), $"session {ids[i]} got {handlers[i].Frames} of {Count} frames");
                for (int k = 0; k < Count; k++)
                {
                    string got = System.Text.Encoding.UTF8.GetString(handlers[i].All[k]);
                    Require(got == $"{{\"from\":\"{ids[i]}\",\"n\":{k}}}", $"session {ids[i]}'s frame {k} is {got}");
                }
            }

            // Cleanup of the listener ends every session: each client reads its frames, then end-of-file.
            sessions.Dispose();
            foreach (var (child, id) in children.Zip(ids))
            {
                ExpectClient(child, TimeSpan.FromSeconds(60), "session " + id);
            }

            Require(managers.All(m => !m.IsConnected), "a session is still connected after the listener's cleanup");
            return null;
        }
        finally
        {
            foreach (var child in children)
            {
                if (!child.HasExited)
                {
                    child.Kill();
                }

                child.Dispose();
            }
        }
    }
    finally
    {
        Log.SetSink(null, LogLevel.Warning);
    }
}

string? ManagedSessionClients()
{
    using var sessions = new SessionListener();
    string pipe = sessions.Listen(new TransportConfig { Transport = "pipe" })[3];
    var clients = new List<(IPCManager Manager, Handler Handler, string Id)>();
    try
    {
        foreach (string id in new[] { "managed-a", "managed-b" })
        {
            sessions.Expect(id);
            var handler = new Handler();
            var c = new IPCManager();
            c.SetHandler(handler);
            c.Connect(new TransportConfig { Transport = "pipe", PipeName = pipe, ConnectTimeoutMs = 10_000 });
            c.Send(1, System.Text.Encoding.UTF8.GetBytes($"{{\"event\":\"dapper/sessionHello\",\"body\":{{\"sessionId\":\"{id}\",\"parentSessionId\":\"root\",\"pid\":{Environment.ProcessId}}}}}"));
            c.StartReader();
            clients.Add((c, handler, id));
        }

        foreach (var (c, handler, id) in clients)
        {
            using IPCManager session = sessions.Accept(id, 30_000);
            var atSession = new Handler();
            session.SetHandler(atSession);
            session.StartReader();
            session.Send(2, System.Text.Encoding.UTF8.GetBytes(id));
            Require(handler.WaitFrames(1, TimeSpan.FromSeconds(30)), $"client {id} got nothing from its session");
            Require(System.Text.Encoding.UTF8.GetString(handler.Last) == id, $"client {id} got {System.Text.Encoding.UTF8.GetString(handler.Last)}");
            c.Send(1, System.Text.Encoding.UTF8.GetBytes("from " + id));
            Require(atSession.WaitFrames(1, TimeSpan.FromSeconds(30)), $"session {id} got nothing from its client");
            Require(System.Text.Encoding.UTF8.GetString(atSession.Last) == "from " + id, $"session {id} got {System.Text.Encoding.UTF8.GetString(atSession.Last)}");
        }

        return null;
    }
    finally
    {
        foreach (var (c, _, _) in clients)
        {
            c.Dispose();
        }
    }
}

string? SecondSessionListener()
{
    using var first = new SessionListener();
    string pipe = first.Listen(new TransportConfig { Transport = "pipe" })[3];
    using var second = new SessionListener();
    var refused = Refusal(() => second.Listen(new TransportConfig { Transport = "pipe", PipeName = pipe }));
    Require(refused.Status == IpcStatus.AddressInUse, $"a second session listener on a live name: {refused.Status} ({refused.Message})");
    return null;
}

static IpcException Refusal(Action call)
{
    try
    {
        call();
    }
    catch (IpcException e)
    {
        return e;
    }

    throw new InvalidOperationException("the call succeeded");
}

string? EchoSizes()
{
    var handler = new Handler();
    var (m, pipe) = Listen(handler);
    using var _ = m;
    handler.OnFrame = (kind, payload) => m.Send(kind, payload);
    using var p = StartClient(client, ["sizes", pipe]);
    m.WaitForClient(20_000);
    m.StartReader();
    ExpectClient(p, TimeSpan.FromSeconds(120), "sizes");
    Require(handler.Frames == 13, $"the host got {handler.Frames} frames, not 13");
    return null;
}

string? BothWays()
{
    const int Count = 2000;
    var handler = new Handler();
    uint next = 0;
    string? disorder = null;
    handler.OnFrame = (kind, payload) =>
    {
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if (seq != next || !payload.SequenceEqual(Payload(seq, 4 + (int)(seq * 7919u % 70000u))))
        {
            disorder ??= $"frame {next}: got seq {seq}, {payload.Length} bytes";
        }

        next++;
    };
    var (m, pipe) = Listen(handler);
    using var _ = m;
    using var p = StartClient(client, ["both", pipe, Count.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
    m.WaitForClient(20_000);
    m.StartReader();
    var sender = new Thread(() =>
    {
        for (uint k = 0; k < Count; k++)
        {
            m.Send(1, Payload(k, 4 + (int)(k * 7919u % 70000u)));
        }
    });
    sender.Start();
    ExpectClient(p, TimeSpan.FromSeconds(120), "both");
    Require(sender.Join(TimeSpan.FromSeconds(30)), "the host's sender did not finish");
    Require(handler.WaitFrames(Count, TimeSpan.FromSeconds(30)), $"the host got {handler.Frames} of {Count} frames");
    Require(disorder is null, disorder!);
    return null;
}

string? CleanupGivesEof()
{
    const int Count = 50;
    var handler = new Handler();
    var (m, pipe) = Listen(handler);
    using var p = StartClient(client, ["eof", pipe, Count.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
    m.WaitForClient(20_000);
    m.StartReader();
    for (uint k = 0; k < Count; k++)
    {
        m.Send(2, Payload(k, 4 + (int)(k * 1009u % 20000u)));
    }

    m.Cleanup();
    ExpectClient(p, TimeSpan.FromSeconds(60), "eof");
    m.Dispose();
    return null;
}

string? Garbage()
{
    var handler = new Handler();
    var (m, pipe) = Listen(handler);
    using var _ = m;
    using var p = StartClient(client, ["garbage", pipe]);
    m.WaitForClient(20_000);
    m.StartReader();
    Require(handler.Disconnected.Wait(TimeSpan.FromSeconds(30)), "no disconnect after garbage");
    Require(handler.DisconnectStatus == IpcStatus.Protocol, $"disconnect status {handler.DisconnectStatus}: {handler.DisconnectReason}");
    ExpectClient(p, TimeSpan.FromSeconds(30), "garbage");
    Require(handler.Frames == 0, "garbage was delivered as a frame");
    return null;
}

// A waiter blocked in wait_for_client(-1) must be woken by cleanup. WaitNamedPipe returns
// only once the server has a ConnectNamedPipe pending, so it shows the waiter is inside
// the accept before cleanup runs; the waiter must then return Cancelled within 10 s.
string? CleanupDuringWait()
{
    // The waiter must be inside wait_for_client when cleanup comes; a wait begun after
    // cleanup is InvalidState by design (no listener any more). The thread says when it is
    // about to wait, and the ConnectNamedPipe the wait blocks on is seen pending from outside;
    // if cleanup still won the race to the call, the attempt tells nothing and is made again.
    for (int attempt = 1; attempt <= 10; attempt++)
    {
        var (m, pipe) = Listen(new Handler());
        using var __ = m;
        IpcStatus? status = null;
        using var entering = new ManualResetEventSlim();
        var waiter = new Thread(() =>
        {
            try
            {
                entering.Set();
                m.WaitForClient(-1);
                status = IpcStatus.Ok;
            }
            catch (IpcException e)
            {
                status = e.Status;
            }
        }) { IsBackground = true };
        waiter.Start();
        Require(entering.Wait(TimeSpan.FromSeconds(10)), "the waiting thread never started");
        Require(Kernel32.WaitNamedPipeW(pipe, 10_000), "the listener never had a ConnectNamedPipe pending");
        m.Cleanup();
        Require(waiter.Join(TimeSpan.FromSeconds(10)), "wait_for_client, blocked in the accept, did not return within 10 s of cleanup");
        if (status == IpcStatus.InvalidState)
        {
            continue; // cleanup came before the call: not the case under test
        }

        Require(status == IpcStatus.Cancelled, $"wait_for_client ended with {status?.ToString() ?? "nothing"}, not Cancelled");
        return null;
    }

    throw new InvalidOperationException("in 10 attempts cleanup never found wait_for_client waiting");
}

string? SecondListener()
{
    var (first, pipe) = Listen(new Handler());
    using var _ = first;
    using var second = new IPCManager();
    try
    {
        second.CreateListener(new TransportConfig { Transport = "pipe", PipeName = pipe });
    }
    catch (IpcException e) when (e.Status == IpcStatus.AddressInUse)
    {
        // The live listener still takes its client.
        using var p = StartClient(client, ["one", pipe]);
        first.WaitForClient(20_000);
        first.StartReader();
        first.Send(1, Payload(1, 16));
        ExpectClient(p, TimeSpan.FromSeconds(30), "one, after the second listener failed");
        return null;
    }

    throw new InvalidOperationException("a second listener on a live name was created");
}

string? Squatter()
{
    string pipe = @"\\.\pipe\dapper-wine-squat-" + Environment.ProcessId;
    using var squatter = StartClient(client, ["squat", pipe]);
    Require(squatter.StandardOutput.ReadLine() == "ready", "the squatter did not start");
    try
    {
        using var m = new IPCManager();
        m.CreateListener(new TransportConfig { Transport = "pipe", PipeName = pipe });
        throw new InvalidOperationException("the listener served a name a squatter made first");
    }
    catch (IpcException e) when (e.Status == IpcStatus.AddressInUse)
    {
        return null;
    }
    finally
    {
        squatter.StandardInput.Close();
        squatter.WaitForExit(10_000);
    }
}

string? ManagedClient()
{
    var atServer = new Handler();
    var (server, pipe) = Listen(atServer);
    using var _ = server;
    atServer.OnFrame = (kind, payload) => server.Send(kind, payload);
    var atClient = new Handler();
    using var c = new IPCManager();
    c.SetHandler(atClient);
    c.Connect(new TransportConfig { Transport = "pipe", PipeName = pipe, ConnectTimeoutMs = 10_000 });
    c.StartReader();
    server.WaitForClient(20_000);
    server.StartReader();
    byte[] big = Payload(7, 3 * 1024 * 1024 + 1);
    c.Send(1, big);
    Require(atClient.WaitFrames(1, TimeSpan.FromSeconds(30)), "the echo did not come back");
    Require(atClient.Last.AsSpan().SequenceEqual(big), "the echo differs");
    c.Cleanup();
    Require(atServer.Disconnected.Wait(TimeSpan.FromSeconds(30)), "the server did not see the client leave");
    return null;
}

// The pool's workers are all held (its maximum lowered to the CPU count, each worker blocked,
// and one more item queued that cannot start), as a host's own activity can hold them. A
// pipe accept or read that waits on the pool cannot finish then; one on our threads does.
string? FirstFrameWithPoolSaturated()
{
    ThreadPool.GetMaxThreads(out int maxWorkers, out int maxIo);
    ThreadPool.GetMinThreads(out int minWorkers, out _);
    int workers = Math.Max(Environment.ProcessorCount, minWorkers);
    Require(ThreadPool.SetMaxThreads(workers, maxIo), "cannot cap the thread pool");
    using var release = new ManualResetEventSlim();
    using var started = new CountdownEvent(workers);
    using var finished = new ManualResetEventSlim();
    // A pool-bound accept never returns here, not even at its timeout (the timeout's timer
    // runs on the pool too): a watchdog on its own thread turns that hang into a failure.
    var watchdog = new Thread(() =>
    {
        if (!finished.Wait(TimeSpan.FromSeconds(60)))
        {
            Console.WriteLine("FAIL the first frame arrives promptly while the thread pool is saturated: hung for 60 s (pipe I/O waits on the thread pool)");
            Environment.Exit(1);
        }
    }) { IsBackground = true };
    watchdog.Start();
    try
    {
        for (int i = 0; i < workers; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_ => { started.Signal(); release.Wait(); }, null);
        }

        Require(started.Wait(TimeSpan.FromSeconds(30)), $"{started.CurrentCount} of {workers} pool workers did not start");
        ThreadPool.UnsafeQueueUserWorkItem(_ => { }, null);
        Require(ThreadPool.PendingWorkItemCount > 0, "the pool is not saturated: a queued item is not pending");

        var handler = new Handler();
        var (m, pipe) = Listen(handler);
        using var _ = m;
        // No redirected output: reading it would itself wait on the pool.
        using var p = Process.Start(new ProcessStartInfo(client, ["one", pipe]) { UseShellExecute = false })!;
        var clock = Stopwatch.StartNew();
        try
        {
            m.WaitForClient(10_000);
        }
        catch (IpcException e)
        {
            throw new InvalidOperationException($"the client was not accepted within 10 s ({e.Status}): the accept waits on the pool");
        }

        m.StartReader();
        Require(handler.WaitFrames(1, TimeSpan.FromSeconds(10)), "no frame within 10 s of the client starting: the read waits on the pool");
        long firstFrameMs = clock.ElapsedMilliseconds;
        m.Send(1, Payload(1, 16));
        Require(p.WaitForExit(30_000), "the client did not finish");
        Require(p.ExitCode == 0, $"the client failed, exit {p.ExitCode}");

        Console.WriteLine($"     first frame {firstFrameMs} ms after the client started, with {workers} pool workers held");
        return null;
    }
    finally
    {
        finished.Set();
        release.Set();
        ThreadPool.SetMaxThreads(maxWorkers, maxIo);
    }
}

internal sealed class Handler : IConnectionHandler
{
    private int _frames;

    public Action<byte, byte[]>? OnFrame { get; set; }

    public int Frames => Volatile.Read(ref _frames);

    public byte[] Last { get; private set; } = [];

    private readonly List<byte[]> _all = [];

    /// <summary>Every frame so far, in order.</summary>
    public IReadOnlyList<byte[]> All
    {
        get
        {
            lock (this)
            {
                return [.. _all];
            }
        }
    }

    public ManualResetEventSlim Disconnected { get; } = new();

    public IpcStatus DisconnectStatus { get; private set; }

    public string DisconnectReason { get; private set; } = "";

    public bool OneFramePerCall => true;

    public unsafe void OnMessages(ReadOnlySpan<NativeFrame> frames)
    {
        foreach (NativeFrame frame in frames)
        {
            OnMessage((byte)frame.Kind, new ReadOnlySpan<byte>(frame.Payload, (int)frame.Length));
        }
    }

    private void OnMessage(byte kind, ReadOnlySpan<byte> payload)
    {
        byte[] copy = payload.ToArray();
        Last = copy;
        OnFrame?.Invoke(kind, copy);
        lock (this)
        {
            _all.Add(copy);
            _frames++;
            Monitor.PulseAll(this);
        }
    }

    public void OnConnectionEvent(ConnectionEvent connectionEvent, IpcStatus status, string reason)
    {
        if (connectionEvent == ConnectionEvent.Disconnected)
        {
            DisconnectStatus = status;
            DisconnectReason = reason;
            Disconnected.Set();
        }
    }

    public bool WaitFrames(int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (this)
        {
            while (_frames < count)
            {
                long left = (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                if (left <= 0 || !Monitor.Wait(this, (int)left))
                {
                    return _frames >= count;
                }
            }

            return true;
        }
    }
}

internal sealed class LogCollector : ILogSink
{
    private readonly List<string> _messages = [];

    public void Write(LogLevel level, string message)
    {
        lock (_messages)
        {
            _messages.Add(message);
            Monitor.PulseAll(_messages);
        }
    }

    /// <summary>The first message containing <paramref name="text"/>, waiting up to <paramref name="timeout"/> for it; null if none came.</summary>
    public string? Wait(string text, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_messages)
        {
            while (true)
            {
                string? found = _messages.FirstOrDefault(m => m.Contains(text, StringComparison.Ordinal));
                long left = (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                if (found is not null || left <= 0)
                {
                    return found;
                }

                Monitor.Wait(_messages, (int)left);
            }
        }
    }
}

internal static partial class Kernel32
{
    internal const uint WAIT_TIMEOUT = 0x102;
    internal const uint WAIT_FAILED = 0xFFFFFFFF;

    [System.Runtime.InteropServices.LibraryImport("kernel32.dll")]
    internal static partial uint WaitForSingleObject(nint handle, uint milliseconds);

    [System.Runtime.InteropServices.LibraryImport("kernel32.dll", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf16, SetLastError = true)]
    [return: System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.Bool)]
    internal static partial bool WaitNamedPipeW(string name, uint timeoutMs);
}
