namespace Tou.Protocol.Tests;

/// <summary>The endpoint's one timer: entries ordered by deadline, moved in place, never held twice.</summary>
public class TimerHeapTests
{
    private static ConnectionEntry NewEntry(TouEndpoint endpoint) => new(endpoint);

    [Fact]
    public void Deadlines_come_out_in_order_whatever_order_they_were_set_and_moved_in()
    {
        using var endpoint = new TouEndpoint();
        var heap = new TimerHeap();
        var random = new Random(7);
        var entries = Enumerable.Range(0, 200).Select(_ => NewEntry(endpoint)).ToArray();
        foreach (var entry in entries)
        {
            heap.Update(entry, random.Next(1, 1_000_000));
        }

        foreach (var entry in entries.Where((_, i) => i % 3 == 0))
        {
            heap.Update(entry, random.Next(1, 1_000_000)); // moved up or down in place
        }

        foreach (var entry in entries.Where((_, i) => i % 5 == 0))
        {
            heap.Update(entry, TouTime.Never); // removed
        }

        int expected = entries.Count(e => e.Deadline != TouTime.Never);
        Assert.Equal(expected, heap.Count);
        long previous = 0;
        for (int i = 0; i < expected; i++)
        {
            Assert.True(heap.TryPeek(out var first, out long deadline));
            Assert.Equal(first.Deadline, deadline);
            Assert.True(deadline >= previous);
            previous = deadline;
            heap.Update(first, TouTime.Never);
            Assert.Equal(-1, first.TimerIndex);
        }

        Assert.False(heap.TryPeek(out _, out long none));
        Assert.Equal(TouTime.Never, none);
    }

    [Fact]
    public void An_entry_is_held_once_however_often_its_deadline_changes()
    {
        using var endpoint = new TouEndpoint();
        var heap = new TimerHeap();
        var entry = NewEntry(endpoint);
        for (int i = 0; i < 10; i++)
        {
            heap.Update(entry, 1_000 - i);
        }

        Assert.Equal(1, heap.Count);
        heap.Clear();
        Assert.Equal(0, heap.Count);
        Assert.Equal(-1, entry.TimerIndex);
    }
}
