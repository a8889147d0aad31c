using System;
using System.Runtime.InteropServices;
using DapperIpc.Transports.Shm;

namespace DapperIpc.Fuzz.Targets;

/// <summary>
/// Transports/Shm/ShmRing.cs, the shared-memory ring, with a hostile peer: the input is a
/// script of the peer's writes to the control words (the write index a reader trusts, the
/// read index a writer trusts, the wait and closed words) and to the ring's bytes,
/// interleaved with our reader's reads and our writer's writes. The ring lives inside a
/// larger unmanaged block filled with poison, so a copy outside the ring shows.
/// </summary>
internal static unsafe class ShmRingTarget
{
    private const int Guard = 4096;
    private const byte Poison = 0xA5;

    public static void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        uint size = 4096u << (reader.Byte() % 3); // 4, 8 or 16 KiB
        int controlBytes = ShmLayout.Page;
        int total = Guard + controlBytes + (int)size + Guard;
        byte* block = (byte*)NativeMemory.Alloc((nuint)total);
        try
        {
            new Span<byte>(block, total).Fill(Poison);
            byte* control = block + Guard;
            new Span<byte>(control, controlBytes).Clear();
            byte* data = control + controlBytes;
            var ring = new ShmRing(control, data, size);
            Script(ref reader, ring, control, data, size);
            Invariant.Check(new ReadOnlySpan<byte>(block, Guard).IndexOfAnyExcept(Poison) < 0
                            && new ReadOnlySpan<byte>(data + size, Guard).IndexOfAnyExcept(Poison) < 0,
                "a ring copy wrote outside the ring");
        }
        finally
        {
            NativeMemory.Free(block);
        }
    }

    private static void Script(ref FuzzInput input, ShmRing ring, byte* control, byte* data, uint size)
    {
        ulong readerHead = 0; // what our reader has taken, by its own count
        ulong writerTail = 0; // what our writer has written, by its own count
        byte[] buffer = new byte[3 * size];
        byte[] source = new byte[3 * size];
        for (int i = 0; i < source.Length; i++)
        {
            source[i] = (byte)(i * 7 + 3);
        }

        while (!input.Rest.IsEmpty)
        {
            byte op = input.Byte();
            switch (op % 6)
            {
                case 0: // the peer (as writer) sets the write index our reader trusts
                    *(ulong*)(control + ShmLayout.TailOffset) = (op & 0x80) != 0 ? ((ulong)input.UInt32() << 32 | input.UInt32()) : readerHead + input.UInt16();
                    break;
                case 1: // the peer writes bytes into the ring
                {
                    int at = input.UInt16() % (int)size;
                    int n = Math.Min(input.Byte(), (int)size - at);
                    for (int k = 0; k < n; k++)
                    {
                        data[at + k] = input.Byte();
                    }

                    break;
                }

                case 2: // our reader reads into a buffer of a chosen size
                {
                    int capacity = input.UInt16() % buffer.Length;
                    ulong tail = *(ulong*)(control + ShmLayout.TailOffset);
                    ulong expected = tail - readerHead;
                    byte[] before = new byte[(int)Math.Min(expected, (ulong)capacity)];
                    if (expected <= size)
                    {
                        for (int k = 0; k < before.Length; k++)
                        {
                            before[k] = data[(readerHead + (ulong)k) & (size - 1)];
                        }
                    }

                    int got;
                    try
                    {
                        got = ring.Read(buffer.AsSpan(0, capacity));
                    }
                    catch (Exception e)
                    {
                        Invariant.Refusal(e, IpcStatus.Protocol);
                        Invariant.Check(expected > size, $"a read with {expected} bytes in a {size}-byte ring was refused");
                        return; // the connection closes
                    }

                    Invariant.Check(expected <= size, $"a write index {expected} bytes ahead in a {size}-byte ring was trusted");
                    Invariant.Check(got == before.Length, $"read {got} bytes, {before.Length} were there and fit");
                    Invariant.Check(buffer.AsSpan(0, got).SequenceEqual(before), "the bytes read are not the ring's, in order");
                    readerHead += (ulong)got;
                    ring.WriterWantsWake();
                    Invariant.Check(*(ulong*)(control + ShmLayout.HeadOffset) == readerHead || got == 0,
                        "the reader published a read index other than its own count");
                    break;
                }

                case 3: // the peer (as reader) sets the read index our writer trusts
                    *(ulong*)(control + ShmLayout.HeadOffset) = (op & 0x80) != 0 ? ((ulong)input.UInt32() << 32 | input.UInt32()) : writerTail - input.UInt16();
                    break;
                case 4: // our writer writes up to n bytes
                {
                    int n = input.UInt16() % source.Length;
                    ulong head = *(ulong*)(control + ShmLayout.HeadOffset);
                    int got;
                    fixed (byte* s = source)
                    {
                        try
                        {
                            got = ring.Write(s, n);
                        }
                        catch (Exception e)
                        {
                            Invariant.Refusal(e, IpcStatus.Protocol);
                            Invariant.Check(writerTail - head > size, "a writer refused a read index that is possible");
                            return;
                        }
                    }

                    Invariant.Check((ulong)got <= size, "a write put more than the ring holds");
                    writerTail += (ulong)got;
                    Invariant.Check(ring.Position == writerTail, "the writer's position is not its own count");
                    ring.Publish();
                    Invariant.Check(got == 0 || *(ulong*)(control + ShmLayout.TailOffset) == writerTail,
                        "the writer published a write index other than its own count");
                    break;
                }

                default: // the wait and closed words: anything
                    *(uint*)(control + ShmLayout.ReaderWaitOffset + 64 * (op % 3)) = input.UInt32();
                    break;
            }
        }
    }
}
