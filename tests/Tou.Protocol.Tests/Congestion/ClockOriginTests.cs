using Tou.Simulation;

namespace Tou.Protocol.Tests.Congestion;

/// <summary>
/// The simulator's clock starts at one second; a host's reads minutes or days when a connection opens. Timestamps an
/// engine keeps from zero (a "last seen" that was never set) look years old on a real host and only there: a transfer
/// that starts an hour into the clock must run as one that starts at one second.
/// </summary>
public class ClockOriginTests
{
    private const long OneHourUs = 3_600_000_000;

    [Theory]
    [InlineData(CongestionControlAlgorithm.Bbr)]
    [InlineData(CongestionControlAlgorithm.Cubic)]
    [InlineData(CongestionControlAlgorithm.NewReno)]
    public void A_transfer_an_hour_into_the_clock_runs_as_one_at_its_start(CongestionControlAlgorithm algorithm)
    {
        var path = LinkProfile.Path(TimeSpan.FromMilliseconds(20), 0, rateBitsPerSecond: 100_000_000, queueLimitBytes: 250_000);
        var options = new TouOptions { CongestionControl = algorithm };
        var early = TransferScenario.Run(3, path, path, 0, 5_000_000, options, options);
        var late = TransferScenario.RunWith(network => network.RunFor(OneHourUs), 3, path, path, 0, 5_000_000, options, options);

        Assert.True(early.BytesExact && late.BytesExact);
        Assert.Equal(early.ServerStats.Retransmissions, late.ServerStats.Retransmissions);
        Assert.InRange(late.TransferUs, early.TransferUs * 0.98, early.TransferUs * 1.02);
    }
}
