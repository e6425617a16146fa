namespace Tou.Protocol;

/// <summary>
/// Congestion control algorithms the engine ships, chosen per endpoint with <see cref="TouOptions.CongestionControl"/>.
/// The controllers themselves are internal: this choice is the whole of the congestion-control API, and no other
/// controller can be plugged in.
/// </summary>
public enum CongestionControlAlgorithm
{
    /// <summary>RFC 9438 CUBIC with slow start (the default).</summary>
    Cubic,

    /// <summary>RFC 6582 NewReno with slow start.</summary>
    NewReno,

    /// <summary>Model-based control after BBR (v1): paces at the measured bottleneck bandwidth and keeps about two
    /// bandwidth-delay products in flight; random loss does not shrink its window, so it suits lossy paths.</summary>
    Bbr,
}
