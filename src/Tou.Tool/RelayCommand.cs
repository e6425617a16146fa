using System.CommandLine;
using Tou.Relay;
using Tou.Simulation;

namespace Tou.Tool;

/// <summary><c>tou relay</c>: an impairing UDP relay (loss, bursts, delay, jitter, reordering, duplication, corruption, rate) between a client and a server.</summary>
internal static class RelayCommand
{
    public static Command Create(ToolConsole console)
    {
        var listen = new Option<string>("--listen") { Description = "Where clients send, IP:PORT", Required = true };
        var target = new Option<string>("--target") { Description = "The server, IP:PORT", Required = true };
        var rtt = Number("--rtt", "Added round-trip time, ms (half each way)", 0);
        var jitter = Number("--jitter", "Jitter, ms", 0);
        var loss = Number("--loss", "Random loss, %", 0);
        var burst = Number("--burst", "Chance per datagram to enter a loss burst (80% loss, 30% exit chance), %", 0);
        var reorder = Number("--reorder", "Reordering, %", 0);
        var duplicate = Number("--duplicate", "Duplication, %", 0);
        var corrupt = Number("--corrupt", "Corruption, %", 0);
        var rate = Number("--rate", "Rate limit, Mbit/s (0: none)", 0);
        var queue = Number("--queue", "Queue for the rate limit, KiB", 256);
        var seed = new Option<int>("--seed") { Description = "Seed of the impairments", DefaultValueFactory = _ => 1 };
        var command = new Command("relay", "Relay UDP between clients and a server, impairing both directions alike, until Ctrl+C; then counts.")
        {
            listen, target, rtt, jitter, loss, burst, reorder, duplicate, corrupt, rate, queue, seed,
        };
        command.SetAction(TouCli.Guard(console, async (parse, stop) =>
        {
            var profile = new LinkProfile
            {
                Delay = TimeSpan.FromMilliseconds(parse.GetValue(rtt) / 2),
                Jitter = TimeSpan.FromMilliseconds(parse.GetValue(jitter)),
                LossRate = parse.GetValue(loss) / 100,
                ReorderRate = parse.GetValue(reorder) / 100,
                DuplicateRate = parse.GetValue(duplicate) / 100,
                CorruptRate = parse.GetValue(corrupt) / 100,
                RateBitsPerSecond = (long)(parse.GetValue(rate) * 1e6),
                QueueLimitBytes = (int)(parse.GetValue(queue) * 1024),
                BurstEnterProbability = parse.GetValue(burst) / 100,
                BurstExitProbability = 0.3,
                BurstLossRate = 0.8,
            };
            var targetEndPoint = await Addresses.ResolveAsync(parse.GetValue(target)!, stop).ConfigureAwait(false);
            await using var relay = ImpairmentRelay.Start(Addresses.ParseListen(parse.GetValue(listen)!), targetEndPoint, profile, profile, parse.GetValue(seed));
            await console.Out.WriteLineAsync($"relaying {relay.LocalEndPoint} -> {targetEndPoint} with {profile}; Ctrl+C to stop").ConfigureAwait(false);
            try
            {
                await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: report and stop
            }

            foreach (var (name, stats) in new[] { ("client->server", relay.ClientToServer), ("server->client", relay.ServerToClient) })
            {
                await console.Out.WriteLineAsync(
                    $"{name}: received {stats.Received}, forwarded {stats.Forwarded} ({stats.ForwardedBytes} bytes), lost {stats.Lost + stats.LostInBurst}, " +
                    $"queue drops {stats.QueueDrops}; release error p50 {stats.ReleaseError(0.5).TotalMicroseconds} µs, p99 {stats.ReleaseError(0.99).TotalMicroseconds} µs; " +
                    $"released at {stats.ReleasedBitsPerSecond / 1e6:0.0} Mbit/s (schedule {stats.ScheduledBitsPerSecond / 1e6:0.0})").ConfigureAwait(false);
            }
            return 0;
        }));
        return command;
    }

    private static Option<double> Number(string name, string description, double fallback) =>
        new(name) { Description = description, DefaultValueFactory = _ => fallback };
}
