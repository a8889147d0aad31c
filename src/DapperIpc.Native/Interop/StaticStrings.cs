using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace DapperIpc.Interop;

/// <summary>Strings handed to C as static storage: allocated once, never freed.</summary>
internal static unsafe class StaticStrings
{
    public static readonly byte* Version = Allocate(LibraryVersion.Value);

    private static readonly byte* s_unknown = Allocate("unknown status");

    private static readonly Dictionary<int, nint> s_status = Build();

    public static byte* ForStatus(int status)
        => s_status.TryGetValue(status, out nint p) ? (byte*)p : s_unknown;

    private static Dictionary<int, nint> Build()
    {
        var map = new Dictionary<int, nint>();
        foreach (var (status, text) in IpcStatusTexts.All)
        {
            map[(int)status] = (nint)Allocate(text);
        }

        return map;
    }

    private static byte* Allocate(string s)
    {
        byte[] bytes = NativeText.Utf8Z(s);
        byte* p = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
        bytes.AsSpan().CopyTo(new Span<byte>(p, bytes.Length));
        return p;
    }
}
