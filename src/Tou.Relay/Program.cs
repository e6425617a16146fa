using System.Globalization;
using System.Net;
using Tou.Relay;
using Tou.Simulation;

// tou-relay: an impairing UDP relay for trying TOU (or anything over UDP) on a bad path.
//   dotnet run --project src/Tou.Relay -- --listen 127.0.0.1:6000 --target 127.0.0.1:5001 --rtt 50 --loss 1 [--jitter 5] [--reorder 1]
//       [--duplicate 0.5] [--corrupt 0] [--rate 100] [--queue 256] [--burst 0.01] [--seed 1]
// Percentages for loss/reorder/duplicate/corrupt/burst; ms for rtt/jitter; Mbit/s for rate; KiB for queue.
var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
for (int i = 0; i + 1 < args.Length; i += 2)
{
    values[args[i].TrimStart('-')] = args[i + 1];
}

if (!values.TryGetValue("listen", out var listenText) || !values.TryGetValue("target", out var targetText)
    || !IPEndPoint.TryParse(listenText, out var listen) || !IPEndPoint.TryParse(targetText, out var target))
{
    Console.Error.WriteLine("usage: --listen <ip:port> --target <ip:port> [--rtt ms] [--loss %] [--jitter ms] [--reorder %] [--duplicate %] [--corrupt %] [--rate Mbit/s] [--queue KiB] [--burst %] [--seed n]");
    return 2;
}

double Get(string name, double fallback) => values.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
var profile = new LinkProfile
{
    Delay = TimeSpan.FromMilliseconds(Get("rtt", 0) / 2),
    Jitter = TimeSpan.FromMilliseconds(Get("jitter", 0)),
    LossRate = Get("loss", 0) / 100,
    ReorderRate = Get("reorder", 0) / 100,
    DuplicateRate = Get("duplicate", 0) / 100,
    CorruptRate = Get("corrupt", 0) / 100,
    RateBitsPerSecond = (long)(Get("rate", 0) * 1e6),
    QueueLimitBytes = (int)(Get("queue", 256) * 1024),
    BurstEnterProbability = Get("burst", 0) / 100,
    BurstExitProbability = 0.3,
    BurstLossRate = 0.8,
};
await using var relay = ImpairmentRelay.Start(listen, target, profile, profile, (int)Get("seed", 1));
Console.WriteLine($"relaying {relay.LocalEndPoint} -> {target} with {profile}; Ctrl+C to stop");
var stopped = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopped.TrySetResult(); };
await stopped.Task;
foreach (var (name, stats) in new[] { ("client->server", relay.ClientToServer), ("server->client", relay.ServerToClient) })
{
    Console.WriteLine($"{name}: received {stats.Received}, forwarded {stats.Forwarded} ({stats.ForwardedBytes} bytes), lost {stats.Lost + stats.LostInBurst}, " +
        $"queue drops {stats.QueueDrops}; release error p50 {stats.ReleaseError(0.5).TotalMicroseconds} µs, p99 {stats.ReleaseError(0.99).TotalMicroseconds} µs; " +
        $"released at {stats.ReleasedBitsPerSecond / 1e6:0.0} Mbit/s (schedule {stats.ScheduledBitsPerSecond / 1e6:0.0})");
}

return 0;
