namespace Tou.Transport;

/// <summary>
/// The <c>Tou</c> meter: readable by dotnet-counters (<c>dotnet-counters monitor --counters Tou</c>) and OpenTelemetry
/// (<c>AddMeter("Tou")</c>). In a host, the meter comes from its <see cref="System.Diagnostics.Metrics.IMeterFactory"/>
/// (<see cref="TouTransportOptions.MeterFactory"/>, set by <c>UseTou</c> and <c>AddTouConnectionFactory</c>), so each
/// host's measurements are its own; without one, a process-wide meter of the same name.
/// </summary>
/// <remarks>
/// Instruments (names and units after the OpenTelemetry conventions; durations in seconds):
/// <list type="table">
/// <item><term><c>tou.connections.active</c></term><description>UpDownCounter, <c>{connection}</c>: established and not ended.</description></item>
/// <item><term><c>tou.connections.opened</c></term><description>Counter, <c>{connection}</c>: established, by <c>tou.connection.direction</c> (<c>inbound</c>, <c>outbound</c>).</description></item>
/// <item><term><c>tou.connections.closed</c></term><description>Counter, <c>{connection}</c>: ended, by direction and <c>tou.connection.close_reason</c>.</description></item>
/// <item><term><c>tou.connection.duration</c></term><description>Histogram, <c>s</c>: how long established connections lasted, by direction and close reason.</description></item>
/// <item><term><c>tou.datagrams.sent</c>, <c>tou.datagrams.received</c></term><description>Counters, <c>{datagram}</c>.</description></item>
/// <item><term><c>tou.bytes.sent</c>, <c>tou.bytes.received</c></term><description>Counters, <c>By</c>: UDP payload bytes.</description></item>
/// <item><term><c>tou.retransmissions</c></term><description>Counter, <c>{segment}</c>.</description></item>
/// <item><term><c>tou.rtt</c></term><description>Histogram, <c>s</c>: round-trip time samples.</description></item>
/// <item><term><c>tou.endpoints.active</c></term><description>UpDownCounter, <c>{endpoint}</c>: bound UDP sockets.</description></item>
/// <item><term><c>tou.endpoint.events</c></term><description>ObservableCounter, <c>{event}</c>: refusals, drops and stateless handshakes, by <c>tou.endpoint.event</c>.</description></item>
/// </list>
/// </remarks>
public static class TouMetrics
{
    /// <summary>Name of the meter.</summary>
    public const string MeterName = "Tou";
}
