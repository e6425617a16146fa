namespace Tou.Protocol.Congestion;

/// <summary>
/// The bottleneck bandwidth estimate of <see cref="BbrCongestionController"/>: the highest delivery rate over the current
/// and the previous ProbeBW cycle, so an estimate survives one cycle without a probe and a lower capacity is learned
/// within two.
/// </summary>
internal struct BbrBandwidthFilter
{
    private double _current;
    private double _previous;

    /// <summary>The estimate, bytes per second (0 before any sample).</summary>
    public readonly double Max => Math.Max(_current, _previous);

    public void Update(double deliveryRate) => _current = Math.Max(_current, deliveryRate);

    /// <summary>A new probing cycle begins: the older cycle's maximum is forgotten.</summary>
    public void Advance()
    {
        _previous = _current;
        _current = 0;
    }
}
