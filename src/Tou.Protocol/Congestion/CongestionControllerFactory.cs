namespace Tou.Protocol.Congestion;

internal static class CongestionControllerFactory
{
    public static ICongestionController Create(CongestionControlAlgorithm algorithm, int mss) => algorithm switch
    {
        CongestionControlAlgorithm.NewReno => new NewRenoCongestionController(mss),
        CongestionControlAlgorithm.Cubic => new CubicCongestionController(mss),
        CongestionControlAlgorithm.Bbr => new BbrCongestionController(mss),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown congestion control algorithm."),
    };
}
