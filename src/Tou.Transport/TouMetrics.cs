using System.Diagnostics.Metrics;
using System.Collections.Concurrent;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// The "Tou" meter, readable by dotnet-counters (<c>dotnet-counters monitor --counters Tou</c>) and OpenTelemetry
/// (<c>AddMeter("Tou")</c>). Recording costs next to nothing while nobody listens.
/// </summary>
public static class TouMetrics
{
    /// <summary>Name of the meter.</summary>
    public const string MeterName = "Tou";

    /// <summary>What endpoints refused, dropped or answered statelessly, by kind (see docs/security.md).</summary>
    private static readonly string[] EventKinds =
        ["refused", "syn_cookie_sent", "syn_cookie_accepted", "malformed", "unknown_connection", "integrity_failed", "reset_sent", "control_suppressed"];

    private static readonly Meter s_meter = new(MeterName, "1.0");
    private static readonly UpDownCounter<long> s_activeConnections = s_meter.CreateUpDownCounter<long>("tou.connections.active", "{connection}", "Open TOU connections.");
    private static readonly Counter<long> s_openedConnections = s_meter.CreateCounter<long>("tou.connections.opened", "{connection}", "TOU connections established, by direction.");
    private static readonly Counter<long> s_closedConnections = s_meter.CreateCounter<long>("tou.connections.closed", "{connection}", "TOU connections ended, by reason.");
    private static readonly Counter<long> s_datagramsSent = s_meter.CreateCounter<long>("tou.datagrams.sent", "{datagram}", "UDP datagrams sent.");
    private static readonly Counter<long> s_datagramsReceived = s_meter.CreateCounter<long>("tou.datagrams.received", "{datagram}", "UDP datagrams received.");
    private static readonly Counter<long> s_bytesSent = s_meter.CreateCounter<long>("tou.bytes.sent", "By", "UDP payload bytes sent (headers included).");
    private static readonly Counter<long> s_bytesReceived = s_meter.CreateCounter<long>("tou.bytes.received", "By", "UDP payload bytes received (headers included).");
    private static readonly Counter<long> s_retransmissions = s_meter.CreateCounter<long>("tou.retransmissions", "{segment}", "Segments sent again.");
    private static readonly Histogram<double> s_rtt = s_meter.CreateHistogram<double>("tou.rtt", "ms", "Round-trip time samples.");
    private static readonly UpDownCounter<long> s_endpoints = s_meter.CreateUpDownCounter<long>("tou.endpoints.active", "{socket}", "Bound TOU UDP sockets.");
    private static readonly ConcurrentDictionary<TouSocketEndpoint, byte> s_live = new();
    private static readonly long[] s_retired = new long[EventKinds.Length];

    static TouMetrics() => s_meter.CreateObservableCounter("tou.endpoint.events", ObserveEndpointEvents, "{event}", "Refusals, drops and stateless handshakes of TOU endpoints, by kind.");

    private static long[] Read(TouEndpointStats s) =>
        [s.RefusedConnectionLimit, s.SynCookiesSent, s.SynCookiesAccepted, s.DroppedMalformed, s.DroppedUnknownConnection, s.DroppedIntegrity, s.ResetsSent, s.ResetsSuppressed];

    private static IEnumerable<Measurement<long>> ObserveEndpointEvents()
    {
        var totals = new long[EventKinds.Length];
        lock (s_retired)
        {
            s_retired.CopyTo(totals, 0);
        }

        foreach (var endpoint in s_live.Keys)
        {
            var values = endpoint.ReadStats(Read);
            for (int i = 0; i < totals.Length; i++)
            {
                totals[i] += values[i];
            }
        }

        for (int i = 0; i < totals.Length; i++)
        {
            yield return new Measurement<long>(totals[i], new KeyValuePair<string, object?>("kind", EventKinds[i]));
        }
    }

    internal static void Track(TouSocketEndpoint endpoint) => s_live.TryAdd(endpoint, 0);

    /// <summary>An endpoint closes: its counts move to the retired totals so the counter never goes down.</summary>
    internal static void Retire(TouSocketEndpoint endpoint, TouEndpointStats finalStats)
    {
        var values = Read(finalStats);
        lock (s_retired)
        {
            for (int i = 0; i < values.Length; i++)
            {
                s_retired[i] += values[i];
            }
        }

        s_live.TryRemove(endpoint, out _);
    }

    internal static void EndpointOpened() => s_endpoints.Add(1);

    internal static void EndpointClosed() => s_endpoints.Add(-1);

    internal static void ConnectionOpened(bool isClient)
    {
        s_activeConnections.Add(1);
        s_openedConnections.Add(1, new KeyValuePair<string, object?>("direction", isClient ? "outbound" : "inbound"));
    }

    /// <param name="wasOpen">The connection was counted as opened (a failed or cancelled connect never was).</param>
    internal static void ConnectionClosed(TouCloseReason reason, bool wasOpen)
    {
        if (wasOpen)
        {
            s_activeConnections.Add(-1);
        }

        s_closedConnections.Add(1, new KeyValuePair<string, object?>("reason", ReasonName(reason)));
    }

    internal static void DatagramsSent(int datagrams, int bytes)
    {
        s_datagramsSent.Add(datagrams);
        s_bytesSent.Add(bytes);
    }

    internal static void DatagramReceived(int bytes)
    {
        s_datagramsReceived.Add(1);
        s_bytesReceived.Add(bytes);
    }

    internal static void RttSampled(long micros) => s_rtt.Record(micros / 1000.0);

    internal static void Retransmitted() => s_retransmissions.Add(1);

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
