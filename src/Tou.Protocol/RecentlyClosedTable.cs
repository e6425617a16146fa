using System.Net;

namespace Tou.Protocol;

/// <summary>
/// The endpoint's memory of gracefully closed connections (TCP's TIME-WAIT, as small records instead of
/// connections): bounded in count and lifetime, oldest dropped first, so a peer that missed our last ACK and
/// repeats its FIN still gets an answer.
/// </summary>
internal sealed class RecentlyClosedTable
{
    private readonly Dictionary<SocketAddress, ClosedConnection> _records = new();
    private readonly Queue<(SocketAddress Address, long ExpiresUs)> _order = new();
    private readonly int _capacity;

    public RecentlyClosedTable(int capacity) => _capacity = capacity;

    public int Count => _records.Count;

    /// <summary>Remembers <paramref name="record"/> for <paramref name="remote"/>, first forgetting expired records and, when full, the oldest.</summary>
    public void Add(SocketAddress remote, ClosedConnection record, long nowUs)
    {
        while (_order.TryPeek(out var oldest) && (oldest.ExpiresUs <= nowUs || _records.Count >= _capacity))
        {
            _order.Dequeue();
            if (_records.TryGetValue(oldest.Address, out var held) && held.ExpiresUs == oldest.ExpiresUs)
            {
                _records.Remove(oldest.Address);
            }
        }

        _records[remote] = record;
        _order.Enqueue((remote, record.ExpiresUs));
    }

    /// <summary>The unexpired record for <paramref name="remote"/>, if any.</summary>
    public bool TryGet(SocketAddress remote, long nowUs, out ClosedConnection record) =>
        _records.TryGetValue(remote, out record) && record.ExpiresUs > nowUs;

    /// <summary>Forgets <paramref name="remote"/> (a new connection starts from it).</summary>
    public void Remove(SocketAddress remote) => _records.Remove(remote);
}
