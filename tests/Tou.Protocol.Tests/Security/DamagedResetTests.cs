using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Tests.Mechanisms;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Security;

/// <summary>
/// Damage that sets the RST bit of the next in-order segment makes a packet whose sequence number is exactly the
/// one an untagged RST needs. Only a bare RST (header only) may go untagged, so such a packet is dropped as damaged.
/// </summary>
public class DamagedResetTests : MechanismTestBase
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_segment_damaged_into_an_rst_is_dropped_and_the_transfer_completes(bool toServer)
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        int damaged = 0;
        pair.Filter = p =>
        {
            if (damaged < 3 && p.ToServer == toServer && IsData(p))
            {
                p.Datagram[12] |= (byte)TouFlags.Rst; // the trailer no longer verifies; the number is the expected one
                damaged++;
            }

            return true;
        };

        var (clientApp, serverApp) = Apps(client, server, 400_000, 400_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
        var receiver = toServer ? server : client;
        Assert.Equal(3, damaged);
        Assert.True(receiver.Stats.IntegrityFailures >= 3, $"{receiver.Stats.IntegrityFailures} integrity failures");
    }
}
