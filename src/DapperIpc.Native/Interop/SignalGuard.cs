using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DapperIpc.Interop;

/// <summary>
/// Undoes the Native AOT runtime's SIGPIPE = SIG_IGN (see Native/signal_guard.c) as soon
/// as the runtime has started, before any export runs. Only in the AOT library: in a
/// JIT host (the managed tests) the host's runtime owns the signals.
/// </summary>
internal static partial class SignalGuard
{
    [LibraryImport("dapper_ipc_shim", EntryPoint = "dapper_ipc_restore_sigpipe")]
    private static partial int RestoreSigPipe();

#pragma warning disable CA2255 // A module initializer is the one hook that runs right after runtime start-up.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        if (!RuntimeFeature.IsDynamicCodeSupported && !System.OperatingSystem.IsWindows())
        {
            _ = RestoreSigPipe();
        }
    }
}
