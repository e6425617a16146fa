namespace Tou.Protocol.Tests;

/// <summary>Send-side flow control on its own: which segment's window counts, and the zero-window probe backoff.</summary>
public class SendWindowTests
{
    [Fact]
    public void Only_the_newest_segment_sets_the_window_and_the_largest_is_remembered()
    {
        var window = new SendWindow();
        window.Start(65_535, updatesFromStart: true);
        Assert.Equal(65_535, window.Window);
        Assert.Equal(0, window.Largest); // the handshake's window does not count as offered after it

        Assert.Equal((true, true), window.Update(1_000_000, ackOffset: 10_000, seqOffset: 0));
        Assert.Equal((false, false), window.Update(5, ackOffset: 9_000, seqOffset: 50)); // an older ACK, reordered
        Assert.Equal(1_000_000, window.Window);
        Assert.Equal((false, false), window.Update(5, ackOffset: 10_000, seqOffset: -1)); // same ACK, older data
        Assert.Equal((true, false), window.Update(0, ackOffset: 10_000, seqOffset: 100)); // same ACK, newer data: the window closed
        Assert.Equal(0, window.Window);
        Assert.Equal(1_000_000, window.Largest);
        Assert.Equal(10_000 + 0 - 10_000, window.Room(sndUna: 10_000, sndNxt: 10_000));
    }

    [Fact]
    public void Probes_back_off_by_doubling_up_to_the_cap_and_start_over_when_the_window_reopens()
    {
        var window = new SendWindow();
        Assert.Equal(200_000, window.ProbeInterval(rtoUs: 50_000, maxUs: 60_000_000)); // never below 200 ms
        window.ProbeSent();
        window.ProbeSent();
        Assert.Equal(1_200_000, window.ProbeInterval(rtoUs: 300_000, maxUs: 60_000_000));
        for (int i = 0; i < 20; i++)
        {
            window.ProbeSent();
        }

        Assert.Equal(60_000_000, window.ProbeInterval(rtoUs: 300_000, maxUs: 60_000_000));
        window.Reopened();
        Assert.Equal(300_000, window.ProbeInterval(rtoUs: 300_000, maxUs: 60_000_000));
    }
}
