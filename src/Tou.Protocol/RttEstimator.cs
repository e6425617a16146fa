namespace Tou.Protocol;

/// <summary>
/// RFC 6298 round-trip estimation in microseconds: SRTT and RTTVAR with alpha 1/8 and beta 1/4,
/// RTO = SRTT + max(G, 4·RTTVAR) bounded to [min, max], doubled per timeout (backoff) until a new sample.
/// </summary>
internal sealed class RttEstimator
{
    private const long ClockGranularityUs = 1_000;
    private readonly long _initialRtoUs;
    private readonly long _minRtoUs;
    private readonly long _maxRtoUs;
    private int _backoff;

    public RttEstimator(long initialRtoUs, long minRtoUs, long maxRtoUs)
    {
        _initialRtoUs = initialRtoUs;
        _minRtoUs = minRtoUs;
        _maxRtoUs = maxRtoUs;
    }

    public bool HasSample { get; private set; }

    public long SmoothedRttUs { get; private set; }

    public long RttVarUs { get; private set; }

    public long MinRttUs { get; private set; } = long.MaxValue;

    /// <summary>The current retransmission timeout, backoff included.</summary>
    public long RtoUs
    {
        get
        {
            long baseRto = HasSample
                ? Math.Clamp(SmoothedRttUs + Math.Max(ClockGranularityUs, 4 * RttVarUs), _minRtoUs, _maxRtoUs)
                : _initialRtoUs;
            long rto = baseRto << Math.Min(_backoff, 20);
            return Math.Min(rto, _maxRtoUs);
        }
    }

    public void AddSample(long rttUs)
    {
        rttUs = Math.Max(rttUs, 1);
        MinRttUs = Math.Min(MinRttUs, rttUs);
        if (!HasSample)
        {
            SmoothedRttUs = rttUs;
            RttVarUs = rttUs / 2;
            HasSample = true;
        }
        else
        {
            RttVarUs = (3 * RttVarUs + Math.Abs(SmoothedRttUs - rttUs)) / 4;
            SmoothedRttUs = (7 * SmoothedRttUs + rttUs) / 8;
        }

        _backoff = 0;
    }

    public void OnTimeout() => _backoff++;

    public void ResetBackoff() => _backoff = 0;

    /// <summary>The connection moved to a new network address: nothing measured on the old path holds (RFC 9000 §9.4).</summary>
    public void Reset()
    {
        HasSample = false;
        SmoothedRttUs = 0;
        RttVarUs = 0;
        MinRttUs = long.MaxValue;
        _backoff = 0;
    }
}
