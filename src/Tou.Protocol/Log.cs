using Microsoft.Extensions.Logging;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>The engine's log lines (source-generated, free when the level is off).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "TOU connection {Id}: connecting")]
    public static partial void Connecting(ILogger logger, long id);

    [LoggerMessage(2, LogLevel.Debug, "TOU connection {Id}: established (extensions {Extended}, SACK {Sack}, integrity {Integrity}, window shift {WindowShift}, MSS {Mss})")]
    public static partial void ConnectionEstablished(ILogger logger, long id, bool extended, bool sack, bool integrity, int windowShift, int mss);

    [LoggerMessage(3, LogLevel.Debug, "TOU connection {Id}: closed ({Reason}) from {PreviousState}")]
    public static partial void ConnectionClosed(ILogger logger, long id, TouCloseReason reason, TouConnectionState previousState);

    [LoggerMessage(4, LogLevel.Information, "TOU connection {Id}: handshake failed after {Retransmissions} retransmissions")]
    public static partial void HandshakeFailed(ILogger logger, long id, int retransmissions);

    [LoggerMessage(5, LogLevel.Debug, "TOU connection {Id}: retransmitting seq={Seq} len={Length} (in recovery: {InRecovery})")]
    public static partial void Retransmitting(ILogger logger, long id, uint seq, int length, bool inRecovery);

    [LoggerMessage(6, LogLevel.Debug, "TOU connection {Id}: retransmission timeout #{Count}, next RTO {RtoUs} µs")]
    public static partial void RetransmissionTimeout(ILogger logger, long id, int count, long rtoUs);

    [LoggerMessage(7, LogLevel.Information, "TOU connection {Id}: giving up after {Count} retransmission timeouts")]
    public static partial void GivingUp(ILogger logger, long id, int count);

    [LoggerMessage(16, LogLevel.Debug, "TOU connection {Id}: tail loss probe, nothing acknowledged for two round trips (smoothed RTT {SrttUs} µs)")]
    public static partial void TailLossProbe(ILogger logger, long id, long srttUs);

    [LoggerMessage(8, LogLevel.Trace, "TOU connection {Id}: sent {Header}")]
    public static partial void PacketSent(ILogger logger, long id, TouHeader header);

    [LoggerMessage(9, LogLevel.Trace, "TOU connection {Id}: received {Header}")]
    public static partial void PacketReceived(ILogger logger, long id, TouHeader header);

    [LoggerMessage(10, LogLevel.Debug, "TOU connection {Id}: dropped a datagram ({Reason})")]
    public static partial void PacketDropped(ILogger logger, long id, DropReason reason);

    [LoggerMessage(11, LogLevel.Debug, "TOU connection {Id}: peer closed its sending side")]
    public static partial void PeerClosed(ILogger logger, long id);

    [LoggerMessage(12, LogLevel.Debug, "TOU connection {Id}: sending FIN")]
    public static partial void SendingFin(ILogger logger, long id);

    [LoggerMessage(13, LogLevel.Debug, "TOU connection {Id}: FIN acknowledged")]
    public static partial void FinAcknowledged(ILogger logger, long id);

    [LoggerMessage(14, LogLevel.Debug, "TOU connection {Id}: resetting, the application closed with {Unread} bytes unread or data arrived after it closed")]
    public static partial void ResetUnreadData(ILogger logger, long id, int unread);

    [LoggerMessage(15, LogLevel.Information, "TOU connection {Id}: giving up the close after {LingerMs} ms without progress")]
    public static partial void LingerExpired(ILogger logger, long id, long lingerMs);

    [LoggerMessage(30, LogLevel.Debug, "TOU connection {Id}: datagram size {From} -> {To} bytes ({Reason})")]
    public static partial void DatagramSizeChanged(ILogger logger, long id, int from, int to, string reason);

    [LoggerMessage(31, LogLevel.Debug, "TOU connection {Id}: path MTU probe of {Size} bytes lost")]
    public static partial void PathMtuProbeLost(ILogger logger, long id, int size);

    [LoggerMessage(32, LogLevel.Debug, "TOU connection {Id}: path MTU search done at {Size} bytes after {Probes} probes")]
    public static partial void PathMtuSearchDone(ILogger logger, long id, int size, long probes);

    [LoggerMessage(33, LogLevel.Information, "TOU connection {Id}: full-size datagrams stopped getting through (black hole), back to {Size} bytes")]
    public static partial void PathMtuBlackHole(ILogger logger, long id, int size);

    [LoggerMessage(20, LogLevel.Debug, "TOU endpoint: dropped a datagram from {Remote} ({Reason})")]
    public static partial void EndpointDropped(ILogger logger, System.Net.SocketAddress remote, DropReason reason);

    [LoggerMessage(40, LogLevel.Information, "TOU connection {Id}: the peer's new address answered its challenge; the connection moved there (new host: {NewHost})")]
    public static partial void PathMigrated(ILogger logger, long id, bool newHost);
}
