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
        void Add(IpcStatus s, string text) => map[(int)s] = (nint)Allocate(text);
        Add(IpcStatus.Ok, "ok");
        Add(IpcStatus.InvalidArgument, "invalid argument");
        Add(IpcStatus.InvalidHandle, "invalid handle");
        Add(IpcStatus.InvalidState, "invalid state");
        Add(IpcStatus.BufferTooSmall, "buffer too small");
        Add(IpcStatus.NotConnected, "not connected");
        Add(IpcStatus.Timeout, "timed out");
        Add(IpcStatus.Unsupported, "unsupported on this platform");
        Add(IpcStatus.AddressInUse, "address in use");
        Add(IpcStatus.ConnectionRefused, "connection refused");
        Add(IpcStatus.Closed, "connection closed");
        Add(IpcStatus.Protocol, "protocol error");
        Add(IpcStatus.FrameTooLarge, "frame too large");
        Add(IpcStatus.Io, "i/o error");
        Add(IpcStatus.PathTooLong, "path too long");
        Add(IpcStatus.Cancelled, "cancelled by cleanup");
        Add(IpcStatus.PathExists, "path exists");
        Add(IpcStatus.SendTimeout, "send timed out");
        Add(IpcStatus.Internal, "internal error");
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
