using System;
using System.Net.Sockets;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// Setting up the shared memory over the freshly connected unix socket (docs/protocol.md,
/// "Shared memory"): the listener sends the 8 magic bytes with the memfd attached
/// (SCM_RIGHTS); the client checks the file (a sealed memfd of exactly the size its
/// header promises) before it maps it, so a listener cannot hand it a file that shrinks
/// under it or a size that reads past the end.
/// </summary>
internal static unsafe class ShmRendezvous
{
    public static void RequireLinux()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new IpcException(IpcStatus.Unsupported,
                "the shm transport (shared memory) is implemented on Linux only; use unix (or tcp) here");
        }
    }

    public static void WriteHeader(byte* mapping, uint ringBytes)
    {
        ShmLayout.Magic.CopyTo(new Span<byte>(mapping, 8));
        *(uint*)(mapping + ShmLayout.HeaderVersionOffset) = 1;
        *(uint*)(mapping + ShmLayout.HeaderRingBytesOffset) = ringBytes;
    }

    public static void Send(Socket client, int fd, string description)
    {
        fixed (byte* magic = ShmLayout.Magic)
        {
            int sent = ShmNative.SendFd((int)client.SafeHandle.DangerousGetHandle(), fd, magic, ShmLayout.Magic.Length);
            if (sent != ShmLayout.Magic.Length)
            {
                throw new IpcException(IpcStatus.Io, sent < 0
                    ? $"passing the shared memory to the client of {description} failed: {ShmNative.Describe(sent)}"
                    : $"passing the shared memory to the client of {description} failed: {sent} of {ShmLayout.Magic.Length} bytes sent");
            }
        }
    }

    /// <summary>Receives, checks and maps the listener's memfd: the mapping, its size and the ring size.</summary>
    public static (nint Mapping, ulong Size, uint RingBytes) Receive(Socket socket, string description, int timeoutMs)
    {
        byte* magic = stackalloc byte[8];
        int fd;
        int r = ShmNative.ReceiveFd((int)socket.SafeHandle.DangerousGetHandle(), magic, 8, timeoutMs, &fd);
        try
        {
            if (r == -110) // ETIMEDOUT
            {
                throw new IpcException(IpcStatus.Timeout,
                    $"{description} offered no shared memory within {timeoutMs} ms: is it a shm listener of this library?");
            }

            if (r < 0)
            {
                throw new IpcException(IpcStatus.Closed,
                    $"{description} closed the connection before offering shared memory ({ShmNative.Describe(r)})");
            }

            if (!new ReadOnlySpan<byte>(magic, 8).SequenceEqual(ShmLayout.Magic) || fd < 0)
            {
                throw new IpcException(IpcStatus.Protocol,
                    $"protocol error: {description} did not offer shared memory (no \"DPSHM\" message with a memfd); is it a shm listener of this library?");
            }

            long size = ShmNative.Size(fd);
            ulong ringBytes = size < ShmLayout.DataOffset ? 0 : ((ulong)size - ShmLayout.DataOffset) / 2;
            if (!ShmLayout.ValidRingBytes(ringBytes) || ShmLayout.TotalSize((uint)ringBytes) != (ulong)size)
            {
                throw new IpcException(IpcStatus.Protocol,
                    $"protocol error: the shared memory offered by {description} is {size} bytes, not a header and two rings of a power-of-two size");
            }

            void* mapping;
            int mapped = ShmNative.Map(fd, (ulong)size, &mapping);
            if (mapped == -71) // EPROTO: not sealed against shrinking, or shorter than it said
            {
                throw new IpcException(IpcStatus.Protocol,
                    $"protocol error: the shared memory offered by {description} is not a memfd sealed against shrinking");
            }

            if (mapped < 0)
            {
                throw new IpcException(IpcStatus.Io, $"mapping the shared memory of {description} failed: {ShmNative.Describe(mapped)}");
            }

            byte* m = (byte*)mapping;
            if (!new ReadOnlySpan<byte>(m, 8).SequenceEqual(ShmLayout.Magic)
                || *(uint*)(m + ShmLayout.HeaderVersionOffset) != 1
                || *(uint*)(m + ShmLayout.HeaderRingBytesOffset) != (uint)ringBytes)
            {
                ShmNative.Unmap(mapping, (ulong)size);
                throw new IpcException(IpcStatus.Protocol,
                    $"protocol error: the shared memory offered by {description} has a bad header (magic, version 1, ring size {ringBytes})");
            }

            return ((nint)mapping, (ulong)size, (uint)ringBytes);
        }
        finally
        {
            if (fd >= 0)
            {
                Platform.LibC.Close(fd);
            }
        }
    }
}
