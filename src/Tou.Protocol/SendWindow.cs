namespace Tou.Protocol;

/// <summary>
/// Send-side flow control: the window the peer offers, taken from its newest segment (RFC 793's update rule, with
/// stream offsets), the largest it ever offered (for RFC 5961's ACK check), and the backoff of the zero-window
/// probes sent while it stays closed.
/// </summary>
internal sealed class SendWindow
{
    private long _updateAckOffset = -1;
    private long _updateSeqOffset = -1;
    private int _probeBackoff;

    /// <summary>Bytes the peer accepts beyond its cumulative acknowledgement.</summary>
    public long Window { get; private set; }

    /// <summary>The largest window the peer ever offered after the handshake.</summary>
    public long Largest { get; private set; }

    /// <summary>The handshake's window; with <paramref name="updatesFromStart"/> later segments update it from stream offset 0 on.</summary>
    public void Start(long window, bool updatesFromStart)
    {
        Window = window;
        if (updatesFromStart)
        {
            _updateAckOffset = 0;
            _updateSeqOffset = 0;
        }
    }

    /// <summary>Takes the window from a segment if it is the newest seen (by acknowledgement, then sequence offset).</summary>
    /// <returns>Whether the window changed, and whether it grew.</returns>
    public (bool Changed, bool Opened) Update(long window, long ackOffset, long seqOffset)
    {
        if (ackOffset < _updateAckOffset || (ackOffset == _updateAckOffset && seqOffset < _updateSeqOffset))
        {
            return (false, false);
        }

        var result = (window != Window, window > Window);
        Window = window;
        Largest = Math.Max(Largest, window);
        _updateAckOffset = ackOffset;
        _updateSeqOffset = seqOffset;
        return result;
    }

    /// <summary>Room left for new data between the oldest unacknowledged offset and the next one to send.</summary>
    public long Room(long sndUna, long sndNxt) => sndUna + Window - sndNxt;

    /// <summary>How long to wait before the next zero-window probe: the RTO (at least 200 ms), doubled per probe, at most the cap.</summary>
    public long ProbeInterval(long rtoUs, long maxUs) => Math.Min(Math.Max(rtoUs, 200_000) << Math.Min(_probeBackoff, 10), maxUs);

    public void ProbeSent() => _probeBackoff++;

    /// <summary>The window opened: probing starts from the shortest interval again.</summary>
    public void Reopened() => _probeBackoff = 0;
}
