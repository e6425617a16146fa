namespace Tou.Protocol;

/// <summary>
/// Binary min-heap of connections by deadline in which each connection knows its slot, so a deadline
/// moves in place (O(log n)) and the heap never holds more than one entry per connection. This is the
/// endpoint's single timer for all its connections.
/// </summary>
internal sealed class TimerHeap
{
    private TouConnection[] _items = new TouConnection[16];

    public int Count { get; private set; }

    public bool TryPeek(out TouConnection connection, out long deadline)
    {
        if (Count == 0)
        {
            connection = null!;
            deadline = TouTime.Never;
            return false;
        }

        connection = _items[0];
        deadline = connection.ScheduledDeadline;
        return true;
    }

    /// <summary>Sets the connection's deadline, inserting, moving or removing it (<see cref="TouTime.Never"/> removes).</summary>
    public void Update(TouConnection connection, long deadline)
    {
        int index = connection.TimerIndex;
        if (deadline == TouTime.Never)
        {
            if (index >= 0)
            {
                RemoveAt(index);
            }

            connection.ScheduledDeadline = TouTime.Never;
            return;
        }

        long previous = connection.ScheduledDeadline;
        connection.ScheduledDeadline = deadline;
        if (index < 0)
        {
            if (Count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }

            Place(connection, Count++);
            SiftUp(Count - 1);
        }
        else if (deadline < previous)
        {
            SiftUp(index);
        }
        else if (deadline > previous)
        {
            SiftDown(index);
        }
    }

    public void Clear()
    {
        for (int i = 0; i < Count; i++)
        {
            _items[i].TimerIndex = -1;
            _items[i] = null!;
        }

        Count = 0;
    }

    private void RemoveAt(int index)
    {
        var removed = _items[index];
        removed.TimerIndex = -1;
        Count--;
        if (index != Count)
        {
            Place(_items[Count], index);
            _items[Count] = null!;
            SiftDown(index);
            SiftUp(index);
        }
        else
        {
            _items[Count] = null!;
        }
    }

    private void Place(TouConnection connection, int index)
    {
        _items[index] = connection;
        connection.TimerIndex = index;
    }

    private void SiftUp(int index)
    {
        var item = _items[index];
        while (index > 0)
        {
            int parent = (index - 1) >> 1;
            if (_items[parent].ScheduledDeadline <= item.ScheduledDeadline)
            {
                break;
            }

            Place(_items[parent], index);
            index = parent;
        }

        Place(item, index);
    }

    private void SiftDown(int index)
    {
        var item = _items[index];
        while (true)
        {
            int child = (2 * index) + 1;
            if (child >= Count)
            {
                break;
            }

            if (child + 1 < Count && _items[child + 1].ScheduledDeadline < _items[child].ScheduledDeadline)
            {
                child++;
            }

            if (_items[child].ScheduledDeadline >= item.ScheduledDeadline)
            {
                break;
            }

            Place(_items[child], index);
            index = child;
        }

        Place(item, index);
    }
}
