namespace Tou.Protocol;

/// <summary>Counters of an endpoint.</summary>
public sealed class TouEndpointStats
{
    public long DatagramsReceived { get; internal set; }
    public long DatagramsSent { get; internal set; }

    /// <summary>Datagrams dropped before reaching a connection, by reason.</summary>
    public long DroppedMalformed { get; internal set; }
    public long DroppedUnknownConnection { get; internal set; }
    public long DroppedIntegrity { get; internal set; }
    public long RefusedConnectionLimit { get; internal set; }

    /// <summary>SYNs answered statelessly with a SYN cookie (the handshake table was full).</summary>
    public long SynCookiesSent { get; internal set; }

    /// <summary>Connections created from a valid SYN cookie.</summary>
    public long SynCookiesAccepted { get; internal set; }
    public long ResetsSent { get; internal set; }
    public long ResetsSuppressed { get; internal set; }

    /// <summary>FINs or data repeated by peers of connections that had closed gracefully, acknowledged from the recently-closed table.</summary>
    public long LatePacketsAcknowledged { get; internal set; }
    public long ConnectionsAccepted { get; internal set; }
    public long ConnectionsConnected { get; internal set; }
    public long ConnectionsClosed { get; internal set; }

    /// <summary>Segments retransmitted, all connections together.</summary>
    public long Retransmissions { get; internal set; }
}
