using Tou.Protocol;
using Tou.Transport;

namespace Tou.Tool;

/// <summary>What <c>tou perf client</c> was asked to do.</summary>
internal sealed record PerfClientSettings(
    string Target,
    PerfMode Mode,
    TimeSpan Duration,
    long ByteLimit,
    int Parallel,
    CongestionControlAlgorithm? CongestionControl,
    bool Json,
    string? TraceDirectory,
    TimeSpan Interval,
    TimeSpan ConnectTimeout)
{
    /// <summary>Transport settings for one side of a perf test: the chosen controller, handshake timeout and traces.</summary>
    public static TouTransportOptions TransportOptions(CongestionControlAlgorithm? congestionControl, TimeSpan connectTimeout, string? traceDirectory)
    {
        var protocol = new TouOptions { HandshakeTimeout = connectTimeout };
        if (congestionControl is { } cc)
        {
            protocol.CongestionControl = cc;
        }

        if (traceDirectory is not null)
        {
            protocol.ConnectionTrace = TraceFiles.Into(traceDirectory);
        }

        return new TouTransportOptions { Protocol = protocol };
    }
}
