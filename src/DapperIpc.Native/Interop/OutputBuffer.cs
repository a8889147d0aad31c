using System;
using System.Collections.Generic;
using System.Text;

namespace DapperIpc.Interop;

/// <summary>
/// The one rule for functions that copy a result into the caller's buffer (last_error,
/// launcher_args, auth_token): the needed size, terminators included, is reported first;
/// a buffer too small gets nothing of the result (an empty string when it has room for
/// one byte), so a caller never acts on a truncated path, token or argument list.
/// </summary>
internal static unsafe class OutputBuffer
{
    /// <summary>Copies <paramref name="result"/> (already NUL-terminated) or reports BufferTooSmall. Checks buf against cap first.</summary>
    public static IpcStatus Copy(ReadOnlySpan<byte> result, byte* buf, nuint cap, nuint* needed, out string? tooSmall, string what)
    {
        tooSmall = null;
        if (needed != null)
        {
            *needed = (nuint)result.Length;
        }

        if (cap < (nuint)result.Length)
        {
            if (cap > 0)
            {
                buf[0] = 0;
            }

            tooSmall = $"{what} needs {result.Length} bytes, the buffer has {cap}";
            return IpcStatus.BufferTooSmall;
        }

        result.CopyTo(new Span<byte>(buf, result.Length));
        return IpcStatus.Ok;
    }

    /// <summary>The UTF-8 bytes of each string, each followed by a NUL (the launcher arguments' shape).</summary>
    public static byte[] Terminated(IReadOnlyList<string> strings)
    {
        int total = 0;
        foreach (string s in strings)
        {
            total += Encoding.UTF8.GetByteCount(s) + 1;
        }

        byte[] bytes = new byte[total];
        int at = 0;
        foreach (string s in strings)
        {
            at += Encoding.UTF8.GetBytes(s, bytes.AsSpan(at)) + 1;
        }

        return bytes;
    }
}
