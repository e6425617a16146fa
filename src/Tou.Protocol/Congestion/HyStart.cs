namespace Tou.Protocol.Congestion;

/// <summary>
/// HyStart++ (RFC 9406), the delay-based part: slow start ends when a round's smallest RTT exceeds the
/// previous round's by an eighth (clamped to 4–16 ms), i.e. when a queue starts to build, instead of
/// after the queue overflowed. Rounds are approximated by one smoothed RTT of time.
/// </summary>
internal sealed class HyStart
{
    private const int MinSamples = 8;
    private const long MinThresholdUs = 4_000;
    private const long MaxThresholdUs = 16_000;

    private long _roundEndUs = long.MinValue;
    private long _currentRoundMinRttUs = long.MaxValue;
    private long _lastRoundMinRttUs = long.MaxValue;
    private int _samples;

    /// <summary>Feeds one RTT sample; true when slow start should end now.</summary>
    public bool ShouldExitSlowStart(long nowUs, long latestRttUs, long smoothedRttUs)
    {
        if (latestRttUs <= 0)
        {
            return false;
        }

        if (nowUs >= _roundEndUs)
        {
            _lastRoundMinRttUs = _currentRoundMinRttUs;
            _currentRoundMinRttUs = long.MaxValue;
            _samples = 0;
            _roundEndUs = nowUs + Math.Max(smoothedRttUs, 1);
        }

        _currentRoundMinRttUs = Math.Min(_currentRoundMinRttUs, latestRttUs);
        _samples++;
        if (_samples < MinSamples || _lastRoundMinRttUs == long.MaxValue)
        {
            return false;
        }

        long threshold = Math.Clamp(_lastRoundMinRttUs / 8, MinThresholdUs, MaxThresholdUs);
        return _currentRoundMinRttUs >= _lastRoundMinRttUs + threshold;
    }

    public void Reset()
    {
        _roundEndUs = long.MinValue;
        _currentRoundMinRttUs = long.MaxValue;
        _lastRoundMinRttUs = long.MaxValue;
        _samples = 0;
    }
}
