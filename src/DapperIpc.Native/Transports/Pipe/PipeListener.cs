using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Pipes;
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
/// </summary>
internal sealed class PipeListener : ListenerBase
{
    private readonly NamedPipeServerStream? _server;
    private readonly WindowsPipeIo? _windows;
    private readonly ConnectionOptions _options;
    private readonly string _bareName;
    private readonly CancellationTokenSource _disposed = new();
    private int _accepted; // 0: idle, 1: accepting, 2: handed to a connection (Windows)

    private PipeListener(NamedPipeServerStream? server, WindowsPipeIo? windows, string bareName, ConnectionOptions options)
    {
        _server = server;
        _windows = windows;
        _bareName = bareName;
        _options = options;
        LauncherArgs = ["--ipc", "pipe", "--ipc-pipe", PipeName.Full(bareName)];
    }

    public override IReadOnlyList<string> LauncherArgs { get; }

    public override string Description => "pipe:" + PipeName.Full(_bareName);

    public static PipeListener Create(string? pipeName, ConnectionOptions options)
    {
        string bare = pipeName is null ? PipeName.Random() : PipeName.Bare(pipeName);
        try
        {
            var listener = OperatingSystem.IsWindows()
                ? new PipeListener(null, new WindowsPipeIo(WindowsPipeServer.Create(bare)), bare, options)
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

    public override void Dispose()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        _disposed.Cancel();
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
