using System.Diagnostics;
using Tou.Simulation;
using Tou.Transport;

namespace Tou.Relay;

/// <summary>
/// One direction of the relay: receive loops admit datagrams through the <see cref="ImpairedLink"/> (which gives each
/// copy its delivery time) and hand them over in a lock-free queue; one release thread per direction keeps them ordered
/// by that time, sleeps on a <see cref="ReleaseTimer"/> until the earliest is due and sends everything due in one
/// batched flush. No thread or timer per datagram; a receive loop re-arms the timer only when it hands over something
/// earlier than the armed time. The release thread takes no lock, so a receive loop preempted mid-batch cannot make it late.
/// </summary>
internal sealed class RelayDirection : IDisposable
{
    private readonly Lock _admitLock = new(); // between receive loops only (several clients share the way back)
    private readonly PriorityQueue<Pending, (long At, long Seq)> _queue = new(); // the release thread's alone
    private readonly ImpairedLink _link;
    private readonly RelayDirectionStats _stats;
    private readonly ReleaseTimer _timer = new();
    private readonly Thread _thread;
    private readonly long _epoch;
    private long _sequence;
    private Handover? _handed; // batches handed to the release thread, newest first (a lock-free stack)
    private long _armedAtUs = long.MaxValue; // when the timer fires next (MaxValue: not armed for anything queued)
    private volatile bool _stopping;

    public RelayDirection(LinkProfile profile, Random random, RelayDirectionStats stats, long epoch, string name)
    {
        _stats = stats;
        _link = new ImpairedLink(profile, random, stats);
        _epoch = epoch;
        _thread = new Thread(ReleaseLoop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Microseconds on the relay's clock (the one the link model and the statistics use).</summary>
    public long NowUs() => (long)((Stopwatch.GetTimestamp() - _epoch) * (1_000_000.0 / Stopwatch.Frequency));

    /// <summary>Puts a receive loop's batch through the impairments and hands what survives to the release thread; empties <paramref name="batch"/>.</summary>
    public void Admit(List<Pending> batch)
    {
        Span<long> arrivals = stackalloc long[2];
        long earliest = long.MaxValue;
        var handover = new Handover(batch.Count);
        lock (_admitLock)
        {
            long now = NowUs();
            foreach (var pending in batch)
            {
                _stats.Received++;
                int copies = _link.Admit(now, pending.Data.AsSpan(0, pending.Length), arrivals);
                if (copies == 0)
                {
                    DatagramBufferPool.Return(pending.Data);
                    continue;
                }

                handover.Add(pending, arrivals[0], _sequence++);
                earliest = Math.Min(earliest, arrivals[0]);
                if (copies == 2)
                {
                    var copy = DatagramBufferPool.Rent(pending.Length);
                    pending.Data.AsSpan(0, pending.Length).CopyTo(copy);
                    handover.Add(pending with { Data = copy }, arrivals[1], _sequence++);
                    earliest = Math.Min(earliest, arrivals[1]);
                }
            }
        }

        // Pushed without a lock and taken whole by the release thread, which therefore never waits for a receive loop
        // (a preempted one could otherwise hold it up for as long as the machine keeps that loop off a core).
        Handover? head;
        do
        {
            head = Volatile.Read(ref _handed);
            handover.Next = head;
        }
        while (Interlocked.CompareExchange(ref _handed, handover, head) != head);

        batch.Clear();

        // The release thread arms the timer for its earliest before it sleeps; only something earlier needs a re-arm.
        // (The push above is a full fence, so either the release thread sees the handover before sleeping or this sees its arming.)
        long armed = Volatile.Read(ref _armedAtUs);
        while (earliest < armed)
        {
            long seen = Interlocked.CompareExchange(ref _armedAtUs, earliest, armed);
            if (seen == armed)
            {
                _timer.Arm(Timestamp(earliest));
                break;
            }

            armed = seen;
        }
    }

    private long Timestamp(long us) => _epoch + (long)(us * (Stopwatch.Frequency / 1_000_000.0));

    private void ReleaseLoop()
    {
        // Only where release times matter: a direction without delay, jitter, reordering or rate sends everything as soon as
        // it arrives, and at full speed a real-time thread would keep a core from the endpoints (and the machine's other users).
        var p = _link.Profile;
        if (p.Delay > TimeSpan.Zero || p.Jitter > TimeSpan.Zero || p.RateBitsPerSecond > 0 || p.ReorderRate > 0)
        {
            ReleaseTimer.TryRaiseCurrentThreadPriority();
        }

        var due = new List<Pending>();
        var cursor = new DueCursor(due);
        while (!_stopping)
        {
            for (var handed = Interlocked.Exchange(ref _handed, null); handed is not null; handed = handed.Next)
            {
                handed.MoveTo(_queue);
            }

            long now = NowUs();
            while (_queue.TryPeek(out var pending, out var key) && key.At <= now)
            {
                _queue.Dequeue();
                due.Add(pending);
                _stats.RecordRelease(key.At, now, pending.Length);
            }

            if (due.Count > 0)
            {
                Send(due, cursor);
                continue;
            }

            long next = _queue.TryPeek(out _, out var head) ? head.At : long.MaxValue;
            Interlocked.Exchange(ref _armedAtUs, next);
            if (next != long.MaxValue)
            {
                _timer.Arm(Timestamp(next));
            }

            if (Volatile.Read(ref _handed) is null)
            {
                _timer.Wait();
            }
        }
    }

    /// <summary>Sends what is due, oldest first, one flush per run leaving through the same socket; returns the buffers.</summary>
    private static void Send(List<Pending> due, DueCursor cursor)
    {
        for (int start = 0; start < due.Count;)
        {
            var via = due[start].Via;
            int end = start + 1;
            while (end < due.Count && due[end].Via == via)
            {
                end++;
            }

            cursor.Index = start;
            cursor.End = end;
            via.Sender.Flush(new DueSource(cursor));
            start = end;
        }

        foreach (var pending in due)
        {
            DatagramBufferPool.Return(pending.Data);
        }

        due.Clear();
    }

    /// <summary>Stops the release thread; what is still queued is dropped.</summary>
    public void Dispose()
    {
        _stopping = true;
        _timer.Arm(Stopwatch.GetTimestamp());
        _thread.Join();
        _timer.Dispose();
        for (var handed = Interlocked.Exchange(ref _handed, null); handed is not null; handed = handed.Next)
        {
            handed.MoveTo(_queue);
        }

        while (_queue.TryDequeue(out var pending, out _))
        {
            DatagramBufferPool.Return(pending.Data);
        }
    }

    /// <summary>One receive loop's admitted batch on its way to the release thread.</summary>
    private sealed class Handover(int capacity)
    {
        private readonly (Pending Pending, long At, long Seq)[] _items = new (Pending, long, long)[Math.Max(1, 2 * capacity)];
        private int _count;

        public Handover? Next { get; set; }

        public void Add(Pending pending, long at, long seq) => _items[_count++] = (pending, at, seq);

        public void MoveTo(PriorityQueue<Pending, (long At, long Seq)> queue)
        {
            for (int i = 0; i < _count; i++)
            {
                queue.Enqueue(_items[i].Pending, (_items[i].At, _items[i].Seq));
            }
        }
    }

    /// <summary>The run of due datagrams one flush sends.</summary>
    private sealed class DueCursor(List<Pending> due)
    {
        public List<Pending> Due { get; } = due;

        public int Index { get; set; }

        public int End { get; set; }
    }

    private readonly struct DueSource(DueCursor cursor) : IDatagramSource
    {
        public int Next(Span<byte> buffer, out System.Net.SocketAddress? destination)
        {
            if (cursor.Index >= cursor.End)
            {
                destination = null;
                return 0;
            }

            var pending = cursor.Due[cursor.Index++];
            pending.Data.AsSpan(0, pending.Length).CopyTo(buffer);
            destination = pending.To;
            return pending.Length;
        }
    }
}
