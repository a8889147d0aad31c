using DapperIpc.Factory;
using DapperIpc.Framing;
using DapperIpc.Manager;

namespace DapperIpc.Tests;

public class SendTimeoutTests
{
    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public void A_peer_that_stops_reading_makes_send_fail_with_its_own_status_instead_of_blocking(string transport)
    {
        // The server accepts but never starts a reader: nobody drains the socket.
        using var pair = new ConnectedPair(transport, startReaders: false, clientSendTimeoutMs: 200);
        var client = pair.Client;

        byte[] chunk = new byte[256 * 1024];
        IpcException? failure = null;
        for (int i = 0; i < 10_000 && failure is null; i++)
        {
            try
            {
                client.Send(FrameKind.Event, chunk);
            }
            catch (IpcException e)
            {
                failure = e;
            }
        }

        Assert.NotNull(failure);
        Assert.Equal(IpcStatus.SendTimeout, failure.Status);
        if (failure.StreamCut)
        {
            // Part of a frame went out: the connection cannot carry another frame.
            Assert.Equal(IpcStatus.Closed, Assert.Throws<IpcException>(() => client.Send(FrameKind.Event, [])).Status);
        }
    }
}
