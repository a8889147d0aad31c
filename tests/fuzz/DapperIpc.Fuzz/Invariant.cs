using System;

namespace DapperIpc.Fuzz;

/// <summary>A broken promise of the code under test: afl-fuzz records it as a crash.</summary>
public sealed class InvariantViolation(string message) : Exception(message);

internal static class Invariant
{
    public static void Check(bool condition, string promise)
    {
        if (!condition)
        {
            throw new InvariantViolation(promise);
        }
    }

    /// <summary>A refusal must be an IpcException carrying one of the statuses the caller documents, with a message.</summary>
    public static IpcException Refusal(Exception e, params IpcStatus[] allowed)
    {
        if (e is not IpcException ipc)
        {
            throw new InvariantViolation($"refused with {e.GetType().Name} instead of a status: {e.Message}");
        }

        Check(Array.IndexOf(allowed, ipc.Status) >= 0, $"refused with status {ipc.Status}, expected one of {string.Join(", ", allowed)}");
        Check(!string.IsNullOrWhiteSpace(ipc.Message), $"a refusal with status {ipc.Status} carries no message");
        return ipc;
    }
}
