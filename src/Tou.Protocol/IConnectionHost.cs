namespace Tou.Protocol;

/// <summary>
/// What a connection tells the endpoint that holds it. The connection never sees the endpoint's queues or
/// timer heap: it reports events here, and the endpoint keeps its own bookkeeping per connection
/// (<see cref="ConnectionEntry"/>).
/// </summary>
internal interface IConnectionHost
{
    /// <summary>The UDP port written into headers as the source port.</summary>
    ushort LocalPort { get; }

    /// <summary>The largest datagram the local interface toward the connection's peer carries (a cap of path MTU discovery).</summary>
    int LocalDatagramLimit { get; }

    /// <summary>The connection may have something to send, or its next deadline moved.</summary>
    void OnTransmitReady();

    /// <summary>The connection raised application events (<see cref="TouConnection.TakeEvents"/>).</summary>
    void OnEventsRaised();

    /// <summary>The handshake completed.</summary>
    void OnEstablished();

    /// <summary>A round-trip time sample was taken, in µs.</summary>
    void OnRttSample(long rttUs);

    /// <summary>A segment was sent again.</summary>
    void OnRetransmission();

    /// <summary>The connection moved to a validated new address of its peer (it was at <paramref name="oldAddress"/>).</summary>
    void OnPathChanged(System.Net.SocketAddress oldAddress);
}
