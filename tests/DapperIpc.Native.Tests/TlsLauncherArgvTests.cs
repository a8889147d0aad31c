using DapperIpc.Interop;
using Xunit;

namespace DapperIpc.Tests;

/// <summary>connect_argv's side of tls and wss: the fingerprint option is read, checked and kept to tls and wss.</summary>
public class TlsLauncherArgvTests
{
    private static readonly string Pin = "sha256:" + new string('a', 64);

    [Theory]
    [InlineData("tls")]
    [InlineData("wss")]
    public void The_fingerprint_of_the_launcher_arguments_is_pinned(string transport)
    {
        var config = LauncherArgv.Parse(["prog", "--ipc", transport, "--ipc-host", "10.1.2.3", "--ipc-port", "4000", "--ipc-tls-fingerprint", Pin]);
        Assert.Equal(transport, config.Transport);
        Assert.Equal("10.1.2.3", config.Host);
        Assert.Equal(4000, config.Port);
        Assert.Equal(Pin, config.TlsFingerprint);
    }

    [Fact]
    public void A_fingerprint_that_is_not_sha256_and_64_hex_digits_is_refused_naming_the_option()
    {
        var e = Assert.Throws<IpcException>(() => LauncherArgv.Parse(["--ipc", "tls", "--ipc-port", "1", "--ipc-tls-fingerprint", "sha256:abcd"]));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("--ipc-tls-fingerprint", e.Message);
    }

    [Fact]
    public void A_fingerprint_with_plain_tcp_is_a_contradiction()
    {
        var e = Assert.Throws<IpcException>(() => LauncherArgv.Parse(["--ipc", "tcp", "--ipc-port", "1", "--ipc-tls-fingerprint", Pin]));
        Assert.Equal(IpcStatus.InvalidArgument, e.Status);
        Assert.Contains("contradicts --ipc tcp", e.Message);
    }

    [Fact]
    public void Openssl_style_colons_and_upper_case_are_accepted()
    {
        string colons = "SHA256:" + string.Join(":", System.Linq.Enumerable.Repeat("0F", 32));
        Assert.Equal(colons, LauncherArgv.Parse(["--ipc", "tls", "--ipc-port", "1", "--ipc-tls-fingerprint", colons]).TlsFingerprint);
    }
}
