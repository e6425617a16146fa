using System.Buffers;
using System.Diagnostics;
using Tou.Simulation;
using Tou.Transport;

namespace Tou.Relay;

/// <summary>
/// One direction of the relay: receive loops admit datagrams through the <see cref="ImpairedLink"/> (which gives each
/// copy its delivery time) into a queue ordered by that time; one release thread per direction sleeps on a
/// <see cref="ReleaseTimer"/> until the earliest is due and sends everything due in one batched flush. No thread or
/// timer per datagram, and a receive loop re-arms the timer only when it queues something earlier than the armed time.
/// </summary>
internal sealed class RelayDirection : IDisposable
{
    private readonly Lock _lock = new();
    private readonly PriorityQueue<Pending, (long At, long Seq)> _queue = new();
    private readonly ImpairedLink _link;
    private readonly RelayDirectionStats _stats;
    private readonly ReleaseTimer _timer = new();
    private readonly Thread _thread;
    private readonly long _epoch;
    private long _sequence;
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

    /// <summary>Puts a receive loop's batch through the impairments and queues what survives; empties <paramref name="batch"/>.</summary>
    public void Admit(List<Pending> batch)
    {
        Span<long> arrivals = stackalloc long[2];
        lock (_lock)
        {
            long now = NowUs();
            foreach (var pending in batch)
            {
                _stats.Received++;
                int copies = _link.Admit(now, pending.Data.AsSpan(0, pending.Length), arrivals);
                if (copies == 0)
                {
                    ArrayPool<byte>.Shared.Return(pending.Data);
                    continue;
                }

                _queue.Enqueue(pending, (arrivals[0], _sequence++));
                if (copies == 2)
                {
                    var copy = ArrayPool<byte>.Shared.Rent(pending.Length);
                    pending.Data.AsSpan(0, pending.Length).CopyTo(copy);
                    _queue.Enqueue(pending with { Data = copy }, (arrivals[1], _sequence++));
                }
            }

            // The release thread arms the timer for the head before it sleeps; only something earlier needs a re-arm.
            if (_queue.TryPeek(out _, out var head) && head.At < _armedAtUs)
            {
                _armedAtUs = head.At;
                _timer.Arm(Timestamp(head.At));
            }
        }

        batch.Clear();
    }

    private long Timestamp(long us) => _epoch + (long)(us * (Stopwatch.Frequency / 1_000_000.0));

    private void ReleaseLoop()
    {
        var due = new List<Pending>();
        var cursor = new DueCursor(due);
        while (!_stopping)
        {
            lock (_lock)
            {
                long now = NowUs();
                while (_queue.TryPeek(out var pending, out var key) && key.At <= now)
                {
                    _queue.Dequeue();
                    due.Add(pending);
                    _stats.RecordRelease(key.At, now, pending.Length);
                }

                if (due.Count == 0)
                {
                    _armedAtUs = _queue.TryPeek(out _, out var next) ? next.At : long.MaxValue;
                    if (_armedAtUs != long.MaxValue)
                    {
                        _timer.Arm(Timestamp(_armedAtUs));
                    }
                }
            }

            if (due.Count == 0)
            {
                _timer.Wait();
                continue;
            }

            Send(due, cursor);
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
            ArrayPool<byte>.Shared.Return(pending.Data);
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
        lock (_lock)
        {
            while (_queue.TryDequeue(out var pending, out _))
            {
                ArrayPool<byte>.Shared.Return(pending.Data);
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
