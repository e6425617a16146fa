namespace Tou.Protocol.Congestion;

/// <summary>What one acknowledgement tells a congestion controller. Times in microseconds.</summary>
/// <param name="LatestUs">The RTT sample this acknowledgement produced, or 0.</param>
/// <param name="SmoothedUs">RFC 6298 SRTT.</param>
/// <param name="MinUs">Smallest RTT sample seen.</param>
internal readonly record struct AckSample(long LatestUs, long SmoothedUs, long MinUs)
{
    /// <summary>Delivery rate measured over the newest acknowledged segment's flight (bytes per second), or 0.</summary>
    public double DeliveryRate { get; init; }

    /// <summary>The rate sample was taken while the application, not the network, limited sending.</summary>
    public bool AppLimited { get; init; }

    /// <summary>Bytes delivered in total when the newest acknowledged segment was sent (round counting).</summary>
    public long PriorDelivered { get; init; }

    /// <summary>Bytes delivered in total now.</summary>
    public long Delivered { get; init; }

    /// <summary>Bytes in flight after this acknowledgement.</summary>
    public long BytesInFlight { get; init; }
}
