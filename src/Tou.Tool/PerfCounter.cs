namespace Tou.Tool;

/// <summary>A byte count one task adds to and the reporter reads once a second.</summary>
internal sealed class PerfCounter
{
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Add(long bytes) => Interlocked.Add(ref _value, bytes);
}
