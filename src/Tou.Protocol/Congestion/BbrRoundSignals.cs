namespace Tou.Protocol.Congestion;

/// <summary>What one round trip of acknowledgements told <see cref="BbrCongestionController"/>: bytes delivered and lost,
/// the RTT range and the highest delivery rate — the per-round congestion signals.</summary>
internal struct BbrRoundSignals
{
    public long DeliveredBytes;
    public long LostBytes;
    public int LossEvents;
    public long InflightAtLoss;
    public long MinRttUs;
    public long MaxRttUs;
    public double MaxDeliveryRate;

    /// <summary>Lost over lost plus delivered, this round.</summary>
    public readonly double LossRate => LostBytes <= 0 ? 0 : (double)LostBytes / (LostBytes + DeliveredBytes);

    public static BbrRoundSignals Empty => new() { MinRttUs = long.MaxValue };

    public void AddAck(long ackedBytes, long rttUs, double deliveryRate)
    {
        DeliveredBytes += ackedBytes;
        MaxDeliveryRate = Math.Max(MaxDeliveryRate, deliveryRate);
        if (rttUs > 0)
        {
            MinRttUs = Math.Min(MinRttUs, rttUs);
            MaxRttUs = Math.Max(MaxRttUs, rttUs);
        }
    }

    /// <summary>Segments were lost; <paramref name="inflightAtSend"/> is the smallest in flight when one of them was sent.</summary>
    public void AddLoss(long lostBytes, long inflightAtSend)
    {
        LostBytes += lostBytes;
        LossEvents++;
        InflightAtLoss = InflightAtLoss == 0 ? inflightAtSend : Math.Min(InflightAtLoss, inflightAtSend);
    }
}
