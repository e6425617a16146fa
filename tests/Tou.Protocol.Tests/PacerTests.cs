namespace Tou.Protocol.Tests;

/// <summary>The pacer on its own: its rate, its burst, and when it lets the next segment go.</summary>
public class PacerTests
{
    [Fact]
    public void The_rate_is_the_controllers_or_a_gain_times_the_window_over_the_round_trip()
    {
        Assert.Equal(12.5, Pacer.BytesPerUs(controllerRate: 12_500_000, inSlowStart: true, congestionWindow: 1, smoothedRttUs: 1));
        Assert.Equal(2.0 * 100_000 / 50_000, Pacer.BytesPerUs(0, inSlowStart: true, congestionWindow: 100_000, smoothedRttUs: 50_000));
        Assert.Equal(1.25 * 100_000 / 50_000, Pacer.BytesPerUs(0, inSlowStart: false, congestionWindow: 100_000, smoothedRttUs: 50_000));
    }

    [Fact]
    public void A_full_bucket_lets_ten_segments_go_at_once_then_paces_the_rest()
    {
        var pacer = new Pacer();
        const double bytesPerUs = 1.0; // 1 MB/s
        const int segment = 1000;
        long now = 1_000_000_000;

        int sent = 0;
        while (pacer.TryTake(now, segment, bytesPerUs, segment, nothingInFlight: false) == 0)
        {
            sent++;
            Assert.True(sent <= 10, "the burst is ten segments");
        }

        Assert.Equal(10, sent);
        long readyAt = pacer.TryTake(now, segment, bytesPerUs, segment, nothingInFlight: false);
        Assert.Equal(now + 1000, readyAt); // 1,000 bytes at 1 byte/µs
        Assert.Equal(0, pacer.TryTake(readyAt, segment, bytesPerUs, segment, nothingInFlight: false));
    }

    [Theory]
    [InlineData(2.5, 1452, 10 * 1452)]            // 20 Mbit/s: 4 ms is 10,000 bytes, less than ten segments
    [InlineData(12.5, 1452, 50_000)]              // 100 Mbit/s: four milliseconds' worth
    [InlineData(125.0, 1452, 64 * 1024)]          // 1 Gbit/s: 500,000 bytes in 4 ms, capped at one 64 KB batch
    [InlineData(1000.0, 65_000, 10 * 65_000)]     // large segments: ten of them, as before
    public void The_burst_is_ten_segments_or_four_milliseconds_at_the_rate_up_to_one_offload_batch(double bytesPerUs, int segment, double expected)
    {
        Assert.Equal(expected, Pacer.Burst(bytesPerUs, segment));

        // A full bucket lets that much go at once and then waits.
        var pacer = new Pacer();
        long now = 1_000_000_000;
        long taken = 0;
        while (pacer.TryTake(now, segment, bytesPerUs, segment, nothingInFlight: false) == 0)
        {
            taken += segment;
            Assert.True(taken <= expected, $"took {taken} of a {expected}-byte burst");
        }

        Assert.True(taken > expected - segment, $"took {taken} of a {expected}-byte burst");
    }

    [Fact]
    public void Nothing_in_flight_means_no_waiting_and_a_restart_allows_one_segment()
    {
        var pacer = new Pacer();
        long now = 5_000;
        Assert.Equal(0, pacer.TryTake(now, 1000, 0.001, 1000, nothingInFlight: true));
        Assert.NotEqual(0, pacer.TryTake(now, 1000, 0.001, 1000, nothingInFlight: false));

        pacer.Restart(1000);
        Assert.Equal(0, pacer.TryTake(now, 1000, 0.001, 1000, nothingInFlight: false));
        Assert.NotEqual(0, pacer.TryTake(now, 1000, 0.001, 1000, nothingInFlight: false));
    }
}
