using System;
using System.Diagnostics;
using System.IO;
using System.IO.Pipes;
using System.Threading;
using DapperIpc.Diagnostics;
using DapperIpc.Transports.Platform;

namespace DapperIpc.Transports.Pipe;

/// <summary>Connects to a pipe by full path or bare name, waiting up to the connect timeout for it to exist.</summary>
internal static class PipeConnector
{
    public static ConnectionBase Connect(string pipeName, ConnectionOptions options, int timeoutMs, CancellationToken cancel)
    {
        string bare = PipeName.Bare(pipeName);
        if (OperatingSystem.IsWindows())
        {
            // On this thread, as CPython's multiprocessing connects: WaitNamedPipe,
            // CreateFile (overlapped), message read mode; the owner must be this user.
            // Cancellation surfaces as OperationCanceledException, as on the path below.
            WindowsPipeIo pipe = WindowsPipeIo.Connect(PipeName.Full(bare), timeoutMs, cancel);
            return Established(new PipeConnection(pipe, options, "pipe:" + PipeName.Full(bare)), options);
        }

        var client = new NamedPipeClientStream(".", bare, PipeDirection.InOut,
            PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        long start = Stopwatch.GetTimestamp();
        try
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            wait.CancelAfter(timeoutMs < 0 ? 0 : timeoutMs);
            client.ConnectAsync(wait.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            client.Dispose();
            throw new IpcException(IpcStatus.ConnectionRefused,
                $"nobody is listening on the pipe {PipeName.Full(bare)} (gave up after {(int)Stopwatch.GetElapsedTime(start).TotalMilliseconds} ms)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            client.Dispose();
            throw new IpcException(IpcStatus.ConnectionRefused, $"cannot connect to the pipe {PipeName.Full(bare)}: {e.Message}", e);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        return Established(new PipeConnection(client, options, "pipe:" + PipeName.Full(bare)), options);
    }

    private static ConnectionBase Established(PipeConnection connection, ConnectionOptions options)
    {
        if (options.AuthToken is not null)
        {
            TokenHandshake.Present(connection, options.AuthToken);
        }

        Log.Connected(connection.Description);
        return connection;
    }
}
