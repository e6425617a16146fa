namespace Tou.Protocol;

/// <summary>
/// Congestion control algorithms the engine ships, chosen per endpoint with <see cref="TouOptions.CongestionControl"/>.
/// The controllers themselves are internal: this choice is the whole of the congestion-control API, and no other
/// controller can be plugged in.
/// </summary>
public enum CongestionControlAlgorithm
{
    /// <summary>RFC 9438 CUBIC with slow start (the default until BBR v3-style control replaced it; it follows the Mathis
    /// bound, so random loss of 1% cuts it to a few percent of a long fat path).</summary>
    Cubic,

    /// <summary>RFC 6582 NewReno with slow start.</summary>
    NewReno,

    /// <summary>The default. Model-based control after BBR v3: paces at the measured bottleneck bandwidth, bounds what is
    /// in flight by the BDP and by bounds learned from loss per round; loss counts as congestion only above a bounded
    /// threshold with a queue standing, so random loss does not cut the rate. (The BBR v1 controller of earlier versions
    /// is gone; this value now selects its successor.)</summary>
    Bbr,
}
