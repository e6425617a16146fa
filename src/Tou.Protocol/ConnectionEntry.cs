namespace Tou.Protocol;

/// <summary>
/// The endpoint's record of one connection: whether it waits in the transmit or the event queue, and its
/// place and deadline in the endpoint's <see cref="TimerHeap"/>. It is the connection's
/// <see cref="IConnectionHost"/>, so the connection's events reach the endpoint without either writing the
/// other's fields.
/// </summary>
internal sealed class ConnectionEntry : IConnectionHost
{
    private readonly TouEndpoint _endpoint;
    private TouConnection? _connection;

    public ConnectionEntry(TouEndpoint endpoint) => _endpoint = endpoint;

    /// <summary>The connection this entry holds; set once, right after the connection is built around the entry.</summary>
    public TouConnection Connection
    {
        get => _connection ?? throw new InvalidOperationException("The entry has no connection yet.");
        set => _connection = _connection is null ? value : throw new InvalidOperationException("The entry holds a connection already.");
    }

    public bool InTransmitQueue { get; set; }

    public bool InEventQueue { get; set; }

    /// <summary>The deadline the timer heap orders this entry by (<see cref="TouTime.Never"/> when not in it).</summary>
    public long Deadline { get; set; } = TouTime.Never;

    /// <summary>The entry's slot in the timer heap, or -1.</summary>
    public int TimerIndex { get; set; } = -1;

    public ushort LocalPort => _endpoint.LocalPort;

    public int LocalDatagramLimit => _endpoint.LocalDatagramLimitFor(Connection.RemoteAddress);

    public void OnTransmitReady() => _endpoint.OnTransmitReady(this);

    public void OnEventsRaised() => _endpoint.OnEventsRaised(this);

    public void OnEstablished() => _endpoint.OnEstablished(Connection);

    public void OnRttSample(long rttUs) => _endpoint.RttSampled?.Invoke(rttUs);

    public void OnRetransmission() => _endpoint.OnRetransmission();

    public void OnPathChanged(System.Net.SocketAddress oldAddress) => _endpoint.OnPathChanged(this, oldAddress);
}
