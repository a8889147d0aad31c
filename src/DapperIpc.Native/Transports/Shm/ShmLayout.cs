using System;

namespace DapperIpc.Transports.Shm;

/// <summary>
/// Where things are in the shared memory (docs/protocol.md, "Shared memory"): a header
/// page, one control page per ring, then the two rings' bytes. Ring 0 carries the
/// listener's frames to the client, ring 1 the client's to the listener. Both ends are
/// this library on one machine, so the words are in the host's byte order.
/// </summary>
internal static class ShmLayout
{
    public const int Page = 4096;

    /// <summary>"DPSHM", then version 1: the first 8 bytes of the memfd and the rendezvous message.</summary>
    public static ReadOnlySpan<byte> Magic => "DPSHM\x01\0\0"u8;

    public const int HeaderVersionOffset = 8;   // uint32: 1
    public const int HeaderRingBytesOffset = 12; // uint32: bytes of each ring
    public const int ListenerCpuOffset = 64;   // int32: the CPU the listener last ran on (a scheduling hint)
    public const int ClientCpuOffset = 128;    // int32: the client's

    public const int ControlOffset = Page;       // ring r's control page at Page * (1 + r)
    public const int DataOffset = 3 * Page;      // ring r's bytes at DataOffset + r * ringBytes

    // In a control page, each word on its own cache line so the two ends never share one they both write.
    public const int TailOffset = 0;        // uint64: bytes ever written (the writer's)
    public const int HeadOffset = 64;       // uint64: bytes ever read (the reader's)
    public const int ReaderWaitOffset = 128; // uint32: 0 awake, 1 asleep on this futex, 2 wants a doorbell byte
    public const int WriterWaitOffset = 192; // uint32: 0 awake, 1 asleep on this futex waiting for room
    public const int ClosedOffset = 256;    // uint32: nonzero once the writer closed its side

    public const uint ReaderAwake = 0;
    public const uint ReaderAsleep = 1;
    public const uint ReaderWantsDoorbell = 2;

    public const uint MinRingBytes = 4096;
    public const uint MaxRingBytes = 1u << 30;
    public const uint DefaultRingBytes = 1u << 20;
    public const int DefaultSpinUs = 50;

    public static ulong TotalSize(uint ringBytes) => DataOffset + 2UL * ringBytes;

    public static bool ValidRingBytes(ulong ringBytes)
        => ringBytes >= MinRingBytes && ringBytes <= MaxRingBytes && (ringBytes & (ringBytes - 1)) == 0;
}
