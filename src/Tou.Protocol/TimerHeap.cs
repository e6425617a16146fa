namespace Tou.Protocol;

/// <summary>
/// Binary min-heap of connection entries by deadline in which each entry knows its slot, so a deadline
/// moves in place (O(log n)) and the heap never holds more than one entry per entry. This is the
/// endpoint's single timer for all its connections.
/// </summary>
internal sealed class TimerHeap
{
    private ConnectionEntry[] _items = new ConnectionEntry[16];

    public int Count { get; private set; }

    public bool TryPeek(out ConnectionEntry entry, out long deadline)
    {
        if (Count == 0)
        {
            entry = null!;
            deadline = TouTime.Never;
            return false;
        }

        entry = _items[0];
        deadline = entry.Deadline;
        return true;
    }

    /// <summary>Sets the connection's deadline, inserting, moving or removing it (<see cref="TouTime.Never"/> removes).</summary>
    public void Update(ConnectionEntry entry, long deadline)
    {
        int index = entry.TimerIndex;
        if (deadline == TouTime.Never)
        {
            if (index >= 0)
            {
                RemoveAt(index);
            }

            entry.Deadline = TouTime.Never;
            return;
        }

        long previous = entry.Deadline;
        entry.Deadline = deadline;
        if (index < 0)
        {
            if (Count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }

            Place(entry, Count++);
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

    private void Place(ConnectionEntry entry, int index)
    {
        _items[index] = entry;
        entry.TimerIndex = index;
    }

    private void SiftUp(int index)
    {
        var item = _items[index];
        while (index > 0)
        {
            int parent = (index - 1) >> 1;
            if (_items[parent].Deadline <= item.Deadline)
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

            if (child + 1 < Count && _items[child + 1].Deadline < _items[child].Deadline)
            {
                child++;
            }

            if (_items[child].Deadline >= item.Deadline)
            {
                break;
            }

            Place(_items[child], index);
            index = child;
        }

        Place(item, index);
    }
}
