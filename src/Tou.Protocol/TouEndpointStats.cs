namespace Tou.Protocol;

/// <summary>
/// Counters of an endpoint: its datagrams, what it refused or dropped before any connection saw it, and its
/// connections' comings and goings. Not synchronized: read them on the thread that drives the engine (the UDP
/// host offers <c>TouSocketEndpoint.ReadStats</c> for that). Per-connection counters are in <see cref="TouConnectionStats"/>.
/// </summary>
public sealed class TouEndpointStats
{
    /// <summary>Datagrams handed to the endpoint (each packet of a coalesced buffer counts once).</summary>
    public long DatagramsReceived { get; internal set; }

    /// <summary>Datagrams produced by <see cref="TouEndpoint.PollTransmit"/>: its connections' and its own control packets.</summary>
    public long DatagramsSent { get; internal set; }

    /// <summary>Datagrams for no connection that were too short for their header and payload or had unknown flags.</summary>
    public long DroppedMalformed { get; internal set; }

    /// <summary>Datagrams (other than SYNs) from an address with no connection, no recently-closed record and no
    /// valid SYN cookie; answered with RST unless they were one.</summary>
    public long DroppedUnknownConnection { get; internal set; }

    /// <summary>Datagrams outside a live connection whose CRC32C or keyed tag did not verify: damaged SYNs, forged
    /// late packets for a closed connection, cookie ACKs with a bad tag. Never answered.</summary>
    public long DroppedIntegrity { get; internal set; }

    /// <summary>Connection attempts refused with RST because <see cref="TouOptions.MaxConnections"/> or
    /// <see cref="TouOptions.AcceptBacklog"/> was reached.</summary>
    public long RefusedConnectionLimit { get; internal set; }

    /// <summary>SYNs answered statelessly with a SYN cookie (the handshake table was full).</summary>
    public long SynCookiesSent { get; internal set; }

    /// <summary>Connections created from a valid SYN cookie.</summary>
    public long SynCookiesAccepted { get; internal set; }

    /// <summary>RSTs the endpoint sent itself, for datagrams no connection owned (connections count theirs in
    /// <see cref="TouConnectionStats.ResetsSent"/>).</summary>
    public long ResetsSent { get; internal set; }

    /// <summary>Control packets (RSTs, SYN-cookie SYN+ACKs, late ACKs) not sent because the endpoint's bounded queue
    /// of them was full, as under a flood.</summary>
    public long ResetsSuppressed { get; internal set; }

    /// <summary>FINs or data repeated by peers of connections that had closed gracefully, acknowledged from the recently-closed table.</summary>
    public long LatePacketsAcknowledged { get; internal set; }

    /// <summary>Incoming connections whose handshake completed, queued for <see cref="TouEndpoint.Accept"/>.</summary>
    public long ConnectionsAccepted { get; internal set; }

    /// <summary>Outgoing connections started with <see cref="TouEndpoint.Connect"/> (whether or not the handshake then completed).</summary>
    public long ConnectionsConnected { get; internal set; }

    /// <summary>Connections the endpoint has let go of, for any reason (failed handshakes included).</summary>
    public long ConnectionsClosed { get; internal set; }

    /// <summary>Data and FIN segments retransmitted, all connections together (repeated SYNs and SYN+ACKs are not counted here).</summary>
    public long Retransmissions { get; internal set; }

    /// <summary>Datagrams that carried a connection ID of ours but came from an address other than the connection's (a NAT
    /// rebinding, a network change, or a replay or spoof: the connection checks the tag and validates the address).</summary>
    public long DatagramsFromNewPath { get; internal set; }

    /// <summary>Datagrams whose connection ID names another listener shard, handed to it (<see cref="TouEndpoint.ShardForwarder"/>).</summary>
    public long DatagramsForwarded { get; internal set; }

    /// <summary>Connections that moved to a validated new address of their peer.</summary>
    public long PathMigrations { get; internal set; }
}
