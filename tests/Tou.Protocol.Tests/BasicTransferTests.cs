using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests;

public class BasicTransferTests
{
    [Theory]
    [InlineData(true, 0)]
    [InlineData(true, 1)]
    [InlineData(true, 100_000)]
    [InlineData(true, 3_000_000)]
    [InlineData(false, 100_000)]
    public void Both_directions_arrive_byte_exact_and_close_gracefully(bool extensions, int size)
    {
        using var pair = new EnginePair(new TouOptions { EnableExtensions = extensions }, new TouOptions { EnableExtensions = extensions });
        var (client, server) = pair.Establish();
        Assert.Equal(extensions, client.ExtensionsNegotiated);
        Assert.Equal(extensions, server.ExtensionsNegotiated);

        var clientApp = new StreamApp(client, StreamApp.RandomPayload(1, size));
        var serverApp = new StreamApp(server, StreamApp.RandomPayload(2, size / 2));
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };
        pair.RunUntil(() => client.State == TouConnectionState.Closed && server.State == TouConnectionState.Closed && clientApp.ReceiveCompleted && serverApp.ReceiveCompleted);

        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);
        Assert.Equal(clientApp.ExpectedHashOfSent, serverApp.ReceivedHash());
        Assert.Equal(serverApp.ExpectedHashOfSent, clientApp.ReceivedHash());
    }
}
