using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Mechanisms;

public abstract class MechanismTestBase
{
    private protected static bool IsData(WirePacket p) => p.Header.PayloadLength > 0 && (p.Header.Flags & (TouFlags.Syn | TouFlags.Options)) == 0;

    /// <summary>Runs both apps to a graceful close and checks both directions byte-exact.</summary>
    protected static void CompleteAndVerify(EnginePair pair, TouConnection client, TouConnection server, StreamApp clientApp, StreamApp serverApp, long maxUs = 600_000_000)
    {
        pair.Application = () => { clientApp.Run(); serverApp.Run(); };
        pair.RunUntil(() => clientApp.ReceiveCompleted && serverApp.ReceiveCompleted
            && client.State == TouConnectionState.Closed && server.State == TouConnectionState.Closed, maxUs);
        Assert.Equal(clientApp.ExpectedHashOfSent, serverApp.ReceivedHash());
        Assert.Equal(serverApp.ExpectedHashOfSent, clientApp.ReceivedHash());
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);
    }

    protected static (StreamApp Client, StreamApp Server) Apps(TouConnection client, TouConnection server, int up, int down) =>
        (new StreamApp(client, StreamApp.RandomPayload(11, up)), new StreamApp(server, StreamApp.RandomPayload(12, down)));
}
