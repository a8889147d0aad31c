using DapperIpc.Factory;
using DapperIpc.Interop;

namespace DapperIpc.Tests;

public unsafe class NativeConfigTests
{
    private static int FirstLayoutSize
    {
        get
        {
            NativeConfig c = default;
            return (int)((byte*)&c.SendTimeoutMs - (byte*)&c);
        }
    }

    [Fact]
    public void A_config_of_the_first_layout_is_read_with_defaults_for_the_newer_fields()
    {
        NativeConfig c = default;
        c.StructSize = (uint)FirstLayoutSize;
        c.SendTimeoutMs = 5; // past struct_size: must be ignored
        c.Port = 1234;
        TransportConfig read = NativeConfig.Read(&c);
        Assert.Equal(1234, read.Port);
        Assert.Equal(TransportConfig.DefaultSendTimeoutMs, read.SendTimeoutMs);
        Assert.Equal(TransportConfig.DefaultConnectTimeoutMs, read.ConnectTimeoutMs);
        Assert.False(read.RequireAuth);
    }

    [Fact]
    public void A_full_config_carries_every_field()
    {
        NativeConfig c = default;
        c.StructSize = (uint)sizeof(NativeConfig);
        c.SendTimeoutMs = -1;
        c.Flags = 1;
        c.ClientWaitMs = 250;
        TransportConfig read = NativeConfig.Read(&c);
        Assert.Equal(-1, read.SendTimeoutMs);
        Assert.True(read.RequireAuth);
        Assert.Equal(250, read.ClientWaitMs);
    }

    [Fact]
    public void A_config_of_the_0_1_0_layout_keeps_its_fields_and_gets_the_default_client_wait()
    {
        NativeConfig c = default;
        c.StructSize = (uint)((byte*)&c.ClientWaitMs - (byte*)&c);
        c.SendTimeoutMs = 7;
        c.ClientWaitMs = 5; // past struct_size: must be ignored
        TransportConfig read = NativeConfig.Read(&c);
        Assert.Equal(7, read.SendTimeoutMs);
        Assert.Equal(TransportConfig.DefaultClientWaitMs, read.ClientWaitMs);
    }

    [Theory]
    [InlineData(0u, "dapper_ipc_config_init")]
    [InlineData(8u, "smaller")]
    public void A_config_without_a_valid_struct_size_is_rejected(uint size, string hint)
    {
        NativeConfig* c = stackalloc NativeConfig[1];
        *c = default;
        c->StructSize = size;
        IpcException? e = null;
        try
        {
            NativeConfig.Read(c);
        }
        catch (IpcException caught)
        {
            e = caught;
        }

        Assert.NotNull(e);
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains(hint, e.Message);
    }

    [Fact]
    public void Config_init_never_writes_past_the_size_the_caller_passes()
    {
        // An older program's smaller struct, followed by bytes that are not the library's.
        byte* memory = stackalloc byte[128];
        new Span<byte>(memory, 128).Fill(0xAB);
        delegate* unmanaged<NativeConfig*, nuint, int> init = &Exports.ConfigInit;

        Assert.Equal(0, init((NativeConfig*)memory, (nuint)FirstLayoutSize));
        Assert.Equal((uint)FirstLayoutSize, ((NativeConfig*)memory)->StructSize);
        Assert.True(new Span<byte>(memory + FirstLayoutSize, 128 - FirstLayoutSize).IndexOfAnyExcept((byte)0xAB) < 0,
            "config_init wrote past the caller's struct");

        Assert.Equal((int)IpcStatus.InvalidArgument, init((NativeConfig*)memory, 4));
        Assert.Equal((int)IpcStatus.InvalidArgument, init(null, (nuint)sizeof(NativeConfig)));
    }
}
