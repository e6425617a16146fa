using System.Diagnostics;

namespace Tou.Tool;

/// <summary>A one-line progress bar redrawn in place (on a terminal only), at most ten times a second.</summary>
internal sealed class ProgressBar(TextWriter writer, long? total)
{
    private const int Width = 30;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawMs = -1000;

    public void Update(long done)
    {
        long now = _clock.ElapsedMilliseconds;
        if (now - _lastDrawMs >= 100)
        {
            _lastDrawMs = now;
            Draw(done);
        }
    }

    public void Finish(long done)
    {
        Draw(done);
        writer.WriteLine();
    }

    private void Draw(long done)
    {
        double rate = done * 8 / Math.Max(_clock.Elapsed.TotalSeconds, 1e-6);
        string bar = total is { } t && t > 0
            ? PerfFormat.Invariant($"[{new string('#', (int)(Width * done / t)).PadRight(Width)}] {100.0 * done / t,5:0.0}% ")
            : string.Empty;
        writer.Write(PerfFormat.Invariant($"\r{bar}{PerfFormat.Bytes(done),10}  {PerfFormat.Rate(rate),14} "));
    }
}
