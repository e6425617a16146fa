using System.Net;

namespace Tou.Protocol.Tests;

/// <summary>The TIME-WAIT records: bounded in count and lifetime, oldest forgotten first.</summary>
public class RecentlyClosedTableTests
{
    private static SocketAddress Address(int port) => new IPEndPoint(IPAddress.Loopback, port).Serialize();

    private static ClosedConnection Record(uint seq, long expiresUs) => new(seq, 0, Extended: true, default, default, expiresUs);

    [Fact]
    public void A_record_answers_until_it_expires()
    {
        var table = new RecentlyClosedTable(capacity: 4);
        table.Add(Address(1000), Record(5, expiresUs: 100), nowUs: 0);
        Assert.True(table.TryGet(Address(1000), nowUs: 99, out var record));
        Assert.Equal(5u, record.Seq);
        Assert.False(table.TryGet(Address(1000), nowUs: 100, out _));
        Assert.False(table.TryGet(Address(1001), nowUs: 0, out _));
    }

    [Fact]
    public void When_full_the_oldest_record_goes_and_expired_ones_go_first()
    {
        var table = new RecentlyClosedTable(capacity: 3);
        for (int i = 0; i < 3; i++)
        {
            table.Add(Address(2000 + i), Record((uint)i, expiresUs: 1_000 + i), nowUs: i);
        }

        table.Add(Address(3000), Record(9, expiresUs: 2_000), nowUs: 10);
        Assert.Equal(3, table.Count);
        Assert.False(table.TryGet(Address(2000), nowUs: 10, out _)); // the oldest made room
        Assert.True(table.TryGet(Address(2001), nowUs: 10, out _));

        table.Add(Address(3001), Record(10, expiresUs: 5_000), nowUs: 1_500); // 2001 and 2002 have expired
        Assert.Equal(2, table.Count);
        Assert.True(table.TryGet(Address(3000), nowUs: 1_500, out _));
    }

    [Fact]
    public void A_replaced_record_is_not_forgotten_with_its_predecessor()
    {
        var table = new RecentlyClosedTable(capacity: 8);
        table.Add(Address(4000), Record(1, expiresUs: 100), nowUs: 0);
        table.Add(Address(4000), Record(2, expiresUs: 500), nowUs: 50); // the same peer closed again
        table.Add(Address(4001), Record(3, expiresUs: 600), nowUs: 200); // sweeps the first record's queue slot
        Assert.True(table.TryGet(Address(4000), nowUs: 200, out var record));
        Assert.Equal(2u, record.Seq);
        table.Remove(Address(4000));
        Assert.False(table.TryGet(Address(4000), nowUs: 200, out _));
    }
}
