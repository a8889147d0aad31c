using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Pipes;
using System.Runtime.Versioning;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Transports.Pipe;

/// <summary>
/// A named-pipe listener (the Windows default). The pipe instance exists from creation, so
/// the name is taken before the launcher starts, and a late client connects to it.
/// On Windows the instance is made by <see cref="WindowsPipeServer"/> (message mode, first
/// instance, remote clients rejected, an owner-only DACL) and driven by
/// <see cref="WindowsPipeIo"/> on the caller's thread (no thread pool). Elsewhere .NET's named-pipe
/// classes (over unix sockets, current user only) are used: that is how CI runs this
/// file's framing and lifecycle code; Windows (and the Wine lane) runs WindowsPipeServer.
/// A listener for many clients (<see cref="CreateShared"/>, the session listener's, Windows
/// only) makes, after each client, the next instance of its name before it hands the
/// connected one over, so the name always has an instance waiting and stays ours.
/// </summary>
internal sealed class PipeListener : ListenerBase
{
    private readonly NamedPipeServerStream? _server;
    private WindowsPipeIo? _windows; // many clients: the instance waiting for the next one, under _gate
    private readonly bool _manyClients;
    private readonly Lock _gate = new();
    private readonly ConnectionOptions _options;
    private readonly string _bareName;
    private readonly CancellationTokenSource _disposed = new();
    private int _accepted; // 0: idle, 1: accepting, 2: handed to a connection (Windows)

    private PipeListener(NamedPipeServerStream? server, WindowsPipeIo? windows, string bareName, ConnectionOptions options,
        bool manyClients = false)
    {
        _server = server;
        _windows = windows;
        _manyClients = manyClients;
        _bareName = bareName;
        _options = options;
        LauncherArgs = ["--ipc", "pipe", "--ipc-pipe", PipeName.Full(bareName)];
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description => "pipe:" + PipeName.Full(_bareName);

    public static PipeListener Create(string? pipeName, ConnectionOptions options) => Create(pipeName, options, false);

    /// <summary>A listener for any number of clients, accepted with <see cref="AcceptNext"/>: Windows only.</summary>
    [SupportedOSPlatform("windows")]
    public static PipeListener CreateShared(string? pipeName, ConnectionOptions options) => Create(pipeName, options, true);

    private static PipeListener Create(string? pipeName, ConnectionOptions options, bool manyClients)
    {
        string bare = pipeName is null ? PipeName.Random() : PipeName.Bare(pipeName);
        try
        {
            var listener = OperatingSystem.IsWindows()
                ? new PipeListener(null, new WindowsPipeIo(WindowsPipeServer.Create(bare, manyClients)), bare, options, manyClients)
                : new PipeListener(new NamedPipeServerStream(bare, PipeDirection.InOut, 1, PipeTransmissionMode.Byte,
                    PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly), null, bare, options);
            Log.Listening(listener.Description);
            return listener;
        }
        catch (IOException e)
        {
            throw new IpcException(IpcStatus.AddressInUse, $"the pipe {PipeName.Full(bare)} cannot be created (in use?): {e.Message}", e);
        }
    }

    public override ConnectionBase? Accept(int timeoutMs)
    {
        if (_manyClients)
        {
            return AcceptNext(timeoutMs);
        }

        if (Interlocked.Exchange(ref _accepted, 1) != 0)
        {
            throw new IpcException(IpcStatus.InvalidState, $"the pipe {Description} has already accepted its one client");
        }

        if (_windows is not null && OperatingSystem.IsWindows())
        {
            // Waited for on this thread (overlapped ConnectNamedPipe); Dispose cancels it.
            if (_windows.Accept(timeoutMs < 0 ? -1 : timeoutMs))
            {
                // Handed over (2): from here the connection owns the pipe. A Dispose that
                // raced with the handover either saw 1 and shut the pipe, or is seen here.
                Interlocked.Exchange(ref _accepted, 2);
                if (_disposed.IsCancellationRequested)
                {
                    _windows.Shutdown();
                    throw new IpcException(IpcStatus.Cancelled, $"the listener {Description} was closed while waiting for a client");
                }

                return new PipeConnection(_windows, _options, Description);
            }

            Volatile.Write(ref _accepted, 0);
            return null;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
        if (timeoutMs >= 0)
        {
            wait.CancelAfter(timeoutMs);
        }

        try
        {
            _server!.WaitForConnectionAsync(wait.Token).GetAwaiter().GetResult();
            return new PipeConnection(_server, _options, Description);
        }
        catch (OperationCanceledException)
        {
            Volatile.Write(ref _accepted, 0);
            if (_disposed.IsCancellationRequested)
            {
                throw new IpcException(IpcStatus.Cancelled, $"the listener {Description} was closed while waiting for a client");
            }

            return null;
        }
        catch (ObjectDisposedException)
        {
            throw new IpcException(IpcStatus.Cancelled, $"the listener {Description} was closed while waiting for a client");
        }
    }

    /// <summary>
    /// The next client of a listener for many clients, from one accepting thread: waits on
    /// the current instance, makes the next one, then hands the connected one over. The
    /// instance waiting at Dispose is released by this thread, which alone waits on it.
    /// </summary>
    internal override ConnectionBase? AcceptNext(int timeoutMs)
    {
        if (!_manyClients || !OperatingSystem.IsWindows())
        {
            return base.AcceptNext(timeoutMs);
        }

        WindowsPipeIo instance;
        lock (_gate)
        {
            if (_disposed.IsCancellationRequested)
            {
                _windows?.Dispose();
                _windows = null;
                throw Cancelled();
            }

            // Missing when making it failed after the last client: try again now.
            _windows ??= NextInstance();
            instance = _windows;
        }

        bool connected;
        try
        {
            connected = instance.Accept(timeoutMs < 0 ? -1 : timeoutMs);
        }
        catch (IpcException e)
        {
            // Cancelled (Dispose), or this instance failed: it is not used again.
            lock (_gate)
            {
                _windows = _windows == instance ? null : _windows;
            }

            instance.Dispose();
            throw _disposed.IsCancellationRequested ? Cancelled() : e;
        }

        if (!connected)
        {
            return null;
        }

        lock (_gate)
        {
            if (_disposed.IsCancellationRequested)
            {
                _windows = null;
                instance.Dispose();
                throw Cancelled();
            }

            try
            {
                _windows = NextInstance();
            }
            catch (IpcException)
            {
                // The connected client is served anyway; the next call makes the instance.
                _windows = null;
            }
        }

        return new PipeConnection(instance, _options, Description);
    }

    [SupportedOSPlatform("windows")]
    private WindowsPipeIo NextInstance()
    {
        try
        {
            return new WindowsPipeIo(WindowsPipeServer.CreateNext(_bareName));
        }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception)
        {
            throw new IpcException(IpcStatus.Io, $"cannot make the next instance of the pipe {Description}: {e.Message}", e);
        }
    }

    public override void Dispose()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        _disposed.Cancel();
        if (_manyClients && OperatingSystem.IsWindows())
        {
            // Wakes the accepting thread (Cancelled), which releases the instance.
            lock (_gate)
            {
                _windows?.Shutdown();
            }

            return;
        }

        if (_windows is not null && OperatingSystem.IsWindows())
        {
            // Until it is handed over (2), the pipe is the listener's: shutting it wakes a
            // waiting Accept (Cancelled), and the handle closes once that has left.
            if (Volatile.Read(ref _accepted) != 2)
            {
                _windows.Shutdown();
            }

            return;
        }

        // Once accepted, the stream belongs to the connection, which closes it.
        if (Volatile.Read(ref _accepted) == 0)
        {
            _server!.Dispose();
        }
    }
}
