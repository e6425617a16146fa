using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// The instruments of one <c>Tou</c> meter (see <see cref="TouMetrics"/> for names and units). A host's endpoints share
/// the set made from its <see cref="IMeterFactory"/> (<see cref="TouTransportOptions.MeterFactory"/>), so measurements
/// of one host (or test) are its own; without a factory, one process-wide set. Recording costs next to nothing while
/// nobody listens.
/// </summary>
internal sealed class TouInstruments
{
    /// <summary>What endpoints refused, dropped or answered statelessly, by kind (see docs/security.md).</summary>
    private static readonly string[] EventKinds =
        ["refused", "syn_cookie_sent", "syn_cookie_accepted", "malformed", "unknown_connection", "integrity_failed", "reset_sent", "control_suppressed"];

    private static readonly ConditionalWeakTable<IMeterFactory, TouInstruments> s_byFactory = new();

    /// <summary>Connection durations: 10 ms to 1 h, as Kestrel's <c>kestrel.connection.duration</c>, plus longer.</summary>
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

    /// <summary>Round-trip times: 100 µs (loopback) to 2 s.</summary>
    private static readonly double[] RttBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];

    private readonly UpDownCounter<long> _activeConnections;
    private readonly Counter<long> _openedConnections;
    private readonly Counter<long> _closedConnections;
    private readonly Histogram<double> _connectionDuration;
    private readonly Counter<long> _datagramsSent;
    private readonly Counter<long> _datagramsReceived;
    private readonly Counter<long> _bytesSent;
    private readonly Counter<long> _bytesReceived;
    private readonly Counter<long> _retransmissions;
    private readonly Histogram<double> _rtt;
    private readonly UpDownCounter<long> _endpoints;
    private readonly ConcurrentDictionary<TouSocketEndpoint, byte> _live = new();
    private readonly long[] _retired = new long[EventKinds.Length];

    private TouInstruments(Meter meter)
    {
        Meter = meter;
        _activeConnections = meter.CreateUpDownCounter<long>("tou.connections.active", "{connection}", "TOU connections established and not ended yet.");
        _openedConnections = meter.CreateCounter<long>("tou.connections.opened", "{connection}", "TOU connections established, by direction.");
        _closedConnections = meter.CreateCounter<long>("tou.connections.closed", "{connection}", "TOU connections ended (established or not), by direction and reason.");
        _connectionDuration = meter.CreateHistogram("tou.connection.duration", "s", "How long established TOU connections lasted, by direction and reason.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _datagramsSent = meter.CreateCounter<long>("tou.datagrams.sent", "{datagram}", "UDP datagrams sent.");
        _datagramsReceived = meter.CreateCounter<long>("tou.datagrams.received", "{datagram}", "UDP datagrams received.");
        _bytesSent = meter.CreateCounter<long>("tou.bytes.sent", "By", "UDP payload bytes sent (TOU headers included).");
        _bytesReceived = meter.CreateCounter<long>("tou.bytes.received", "By", "UDP payload bytes received (TOU headers included).");
        _retransmissions = meter.CreateCounter<long>("tou.retransmissions", "{segment}", "Segments sent again.");
        _rtt = meter.CreateHistogram("tou.rtt", "s", "Round-trip time samples.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = RttBuckets });
        _endpoints = meter.CreateUpDownCounter<long>("tou.endpoints.active", "{endpoint}", "Bound TOU UDP sockets.");
        meter.CreateObservableCounter("tou.endpoint.events", ObserveEndpointEvents, "{event}", "Refusals, drops and stateless handshakes of TOU endpoints, by kind.");
    }

    /// <summary>The process-wide set, for endpoints without a meter factory.</summary>
    public static TouInstruments Shared { get; } = new(new Meter(new MeterOptions(TouMetrics.MeterName) { Version = MeterVersion }));

    internal Meter Meter { get; }

    /// <summary>A set on a meter of its own (not <c>Tou</c>), for tools such as the relay that reuse the UDP I/O but are not TOU traffic.</summary>
    internal static TouInstruments CreateDetached(string meterName) => new(new Meter(meterName));

    private static string? MeterVersion => typeof(TouInstruments).Assembly.GetName().Version?.ToString(3);

    /// <summary>The set of <paramref name="meterFactory"/>'s <c>Tou</c> meter (one per factory), or <see cref="Shared"/>.</summary>
    public static TouInstruments For(IMeterFactory? meterFactory) =>
        meterFactory is null ? Shared : s_byFactory.GetValue(meterFactory, static f => new TouInstruments(f.Create(new MeterOptions(TouMetrics.MeterName) { Version = MeterVersion })));

    private static long[] Read(TouEndpointStats s) =>
        [s.RefusedConnectionLimit, s.SynCookiesSent, s.SynCookiesAccepted, s.DroppedMalformed, s.DroppedUnknownConnection, s.DroppedIntegrity, s.ResetsSent, s.ResetsSuppressed];

    private IEnumerable<Measurement<long>> ObserveEndpointEvents()
    {
        var totals = new long[EventKinds.Length];
        lock (_retired)
        {
            _retired.CopyTo(totals, 0);
        }

        foreach (var endpoint in _live.Keys)
        {
            var values = endpoint.ReadStats(Read);
            for (int i = 0; i < totals.Length; i++)
            {
                totals[i] += values[i];
            }
        }

        for (int i = 0; i < totals.Length; i++)
        {
            yield return new Measurement<long>(totals[i], new KeyValuePair<string, object?>("tou.endpoint.event", EventKinds[i]));
        }
    }

    /// <summary>An endpoint opens: counted, and its counters observed from now on.</summary>
    public void EndpointOpened(TouSocketEndpoint endpoint)
    {
        _endpoints.Add(1);
        _live.TryAdd(endpoint, 0);
    }

    /// <summary>An endpoint closes: its counts move to the retired totals so the counter never goes down.</summary>
    public void EndpointClosed(TouSocketEndpoint endpoint, TouEndpointStats finalStats)
    {
        var values = Read(finalStats);
        lock (_retired)
        {
            for (int i = 0; i < values.Length; i++)
            {
                _retired[i] += values[i];
            }
        }

        if (_live.TryRemove(endpoint, out _))
        {
            _endpoints.Add(-1);
        }
    }

    public void ConnectionOpened(bool isClient)
    {
        _activeConnections.Add(1);
        _openedConnections.Add(1, Direction(isClient));
    }

    /// <param name="openedTimestamp">The <see cref="Stopwatch"/> timestamp at which the connection was established, or 0
    /// if it never was (a failed or cancelled connect): only established connections count in
    /// <c>tou.connections.active</c> and <c>tou.connection.duration</c>.</param>
    public void ConnectionClosed(bool isClient, TouCloseReason reason, long openedTimestamp)
    {
        var direction = Direction(isClient);
        var closeReason = new KeyValuePair<string, object?>("tou.connection.close_reason", ReasonName(reason));
        _closedConnections.Add(1, direction, closeReason);
        if (openedTimestamp != 0)
        {
            _activeConnections.Add(-1);
            _connectionDuration.Record(Stopwatch.GetElapsedTime(openedTimestamp).TotalSeconds, direction, closeReason);
        }
    }

    public void DatagramsSent(int datagrams, int bytes)
    {
        _datagramsSent.Add(datagrams);
        _bytesSent.Add(bytes);
    }

    public void DatagramReceived(int bytes)
    {
        _datagramsReceived.Add(1);
        _bytesReceived.Add(bytes);
    }

    public void RttSampled(long micros) => _rtt.Record(micros / 1_000_000.0);

    public void Retransmitted() => _retransmissions.Add(1);

    private static KeyValuePair<string, object?> Direction(bool isClient) =>
        new("tou.connection.direction", isClient ? "outbound" : "inbound");

    private static string ReasonName(TouCloseReason reason) => reason switch
    {
        TouCloseReason.Graceful => "graceful",
        TouCloseReason.ResetByPeer => "reset_by_peer",
        TouCloseReason.Aborted => "aborted",
        TouCloseReason.Refused => "refused",
        TouCloseReason.HandshakeTimeout => "handshake_timeout",
        TouCloseReason.RetransmissionTimeout => "retransmission_timeout",
        TouCloseReason.IdleTimeout => "idle_timeout",
        TouCloseReason.LingerTimeout => "linger_timeout",
        _ => "none",
    };
}
