using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tou.EndToEndBench;
using Tou.Kestrel;
using Tou.Relay;
using Tou.Simulation;
using Tou.Transport;

// End-to-end figures, TOU and TCP side by side in one run on this machine. --quick for a ~1 minute run.
bool quick = args.Contains("--quick");
string output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? "artifacts/bench/results.json";
var results = new SortedDictionary<string, double>(StringComparer.Ordinal);
var table = new List<(string Figure, string Tou, string Tcp, string Ratio)>();
void Record(string key, double value) => results[key] = Math.Round(value, 3);

Console.WriteLine($"Tou.Kestrel end-to-end benchmark ({(quick ? "quick" : "full")}), {Environment.ProcessorCount} cores, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

if (args.Contains("--memory-only"))
{
    var (touIdle, tcpIdle) = await Setup.IdleMemoryAsync(1000);
    Console.WriteLine($"managed memory per idle connection (both ends): TOU {touIdle / 1024:N1} KiB, TCP {tcpIdle / 1024:N1} KiB");
    return;
}

// --http-cell <shards> <connections> [tcp]: one HTTP/1.1 cell over TOU (or TCP) alone, for profiling: warmed up as the
// bench warms up, then five seconds measured (profile them with perf record -D 4000), with the loops' counters.
if (args.SkipWhile(a => a != "--http-cell").Skip(1).Take(3).ToArray() is [var cellShards, var cellConnections, ..] cellArgs)
{
    bool cellTcp = cellArgs is [_, _, "tcp"];
    await using var cellApp = await Http.StartAppAsync(int.Parse(cellShards, CultureInfo.InvariantCulture));
    await Http.WarmUpAsync(cellApp);
    TimerLateness.Reset();
    var cell = await Http.LoadAsync(cellTcp ? cellApp.TcpUri : cellApp.TouUri, int.Parse(cellConnections, CultureInfo.InvariantCulture), TimeSpan.FromSeconds(5), tou: !cellTcp);
    Console.WriteLine($"HTTP/1.1 over {(cellTcp ? "TCP" : "TOU")}, {cellShards} shards, {cellConnections} connections: {cell.Rps:N0} requests/s, p50 {cell.P50Us:N0} µs, p99 {cell.P99Us:N0} µs, {cell.CpuUsPerRequest:0.0} CPU µs and {cell.WorkItemsPerRequest:0.00} thread-pool work items and {cell.LockContentionsPerRequest:0.00} lock contentions per request");
    Console.WriteLine($"deadlines served late by p50 {TimerLateness.Percentile(50)} µs, p99 {TimerLateness.Percentile(99)} µs ({TimerLateness.Count} deadlines)");
    foreach (var loop in IoLoopGroup.Shared?.Started ?? [])
    {
        Console.WriteLine(loop);
    }

    return;
}

// --setup-only: connection setup alone, TOU and TCP.
if (args.Contains("--setup-only"))
{
    var (touOnly, tcpOnly) = await Setup.MeasureAsync(quick ? 100 : 300);
    Console.WriteLine($"setup p50 / p99: TOU {touOnly.P50Us:N0} / {touOnly.P99Us:N0} µs, TCP {tcpOnly.P50Us:N0} / {tcpOnly.P99Us:N0} µs");
    return;
}

// --profile-bulk <upload|download> <pmtu|fixed>: one TOU bulk run and nothing else, to run under perf or strace.
if (args.SkipWhile(a => a != "--profile-bulk").Skip(1).Take(2).ToArray() is [var profileDirection, var profileMtu])
{
    long profileBytes = quick ? 200_000_000 : 1_000_000_000;
    await Bulk.TouAsync(profileBytes / 4, profileDirection == "download", pathMtuDiscovery: profileMtu != "fixed"); // JIT tiers
    await Task.Delay(500);
    var one = await Bulk.TouAsync(profileBytes, profileDirection == "download", pathMtuDiscovery: profileMtu != "fixed");
    Console.WriteLine($"{profileDirection}, {profileMtu}: {one.Gbps:0.00} Gbit/s, {one.CpuSecondsPerGb:0.00} CPU s/GB, {one.DatagramsPerSendCall:0.0} datagrams per send call, {one.DatagramsPerReceiveCall:0.0} per receive call, {one.LockContentionsPerMb:0.0} lock contentions per MB");
    foreach (var loop in Tou.Transport.IoLoopGroup.Shared?.Started ?? [])
    {
        Console.WriteLine(loop);
    }

    Console.WriteLine($"deadlines served late by p50 {TimerLateness.Percentile(50)} µs, p99 {TimerLateness.Percentile(99)} µs ({TimerLateness.Count} deadlines)");
    return;
}

// --relay-forward-only: ten seconds of unimpaired forwarding alone (for profiling the relay with perf).
if (args.Contains("--relay-forward-only"))
{
    var blast = await RelayBench.BlastAsync(LinkProfile.Perfect, 0, TimeSpan.FromSeconds(10));
    Console.WriteLine($"relay forwarded {blast.DeliveredMbps / 1e3:0.00} Gbit/s ({blast.Received} of {blast.Sent} datagrams reached the relay)");
    return;
}

// --relay-rate-only: the 100 Mbit/s rate and release-timing blast alone.
if (args.Contains("--relay-rate-only"))
{
    var rated = new LinkProfile { Delay = TimeSpan.FromMilliseconds(10), RateBitsPerSecond = 100_000_000, QueueLimitBytes = 1 << 20 };
    int gcs = GC.CollectionCount(0);
    var r = await RelayBench.BlastAsync(rated, 150, TimeSpan.FromSeconds(3));
    Console.WriteLine($"gen0 GCs {GC.CollectionCount(0) - gcs}, pause {GC.GetTotalPauseDuration().TotalMilliseconds} ms");
    Console.WriteLine($"delivered {r.DeliveredMbps:0.00} Mbit/s, release error p50 {r.ReleaseP50Us} µs p99 {r.ReleaseP99Us} µs");
    return;
}

if (args.Contains("--relay-only"))
{
    await RelaySection.RunAsync(quick, Record, table);
    PrintTable();
    await WriteResultsAsync();
    return;
}

// --http-only: the HTTP figures alone (both listener configurations), for quick comparisons.
bool httpOnly = args.Contains("--http-only");

// (a) bulk goodput over loopback, each direction apart (a download is sent by the server's socket, which serves
// many connections; an upload by the client's own). Both ends run in this process, so the CPU time per GB is that of
// a sender and a receiver together, for TOU and TCP alike. Runs alternate TOU and TCP after a warm-up (JIT tiers,
// pools, socket buffers), and each figure is the median of three.
long bulkBytes = quick ? 200_000_000 : 1_000_000_000;
if (!httpOnly)
{
    var bulkSummary = new List<string>();
    // Every measured configuration once: each takes code paths of its own (datagram sizes, directions), and code the
    // JIT has not tiered up yet runs several times slower (the framework's own TCP code is precompiled). Then a pause
    // for the background compiler to finish, so the figures are the steady state a long-running server sees.
    foreach (bool download in new[] { false, true })
    {
        await Bulk.TouAsync(bulkBytes / 4, download);
        await Bulk.TouAsync(bulkBytes / 4, download, pathMtuDiscovery: false);
        await Bulk.TcpAsync(bulkBytes / 4, download);
    }

    await Task.Delay(500);
    TimerLateness.Reset();
    foreach (bool download in new[] { false, true })
    {
        string direction = download ? "download" : "upload";
        var tou = new List<Bulk.Result>();
        var touFixed = new List<Bulk.Result>();
        var tcp = new List<Bulk.Result>();
        for (int run = 0; run < 3; run++)
        {
            tou.Add(await Bulk.TouAsync(bulkBytes, download));
            touFixed.Add(await Bulk.TouAsync(bulkBytes, download, pathMtuDiscovery: false));
            tcp.Add(await Bulk.TcpAsync(bulkBytes, download));
        }

        double tcpGbps = Median(tcp.Select(r => r.Gbps)), tcpCpu = Median(tcp.Select(r => r.CpuSecondsPerGb));
        Record($"bulk_{direction}_tcp_gbps", tcpGbps);
        Record($"bulk_{direction}_tcp_cpu_s_per_gb", tcpCpu);
        // Keys without a suffix: path MTU discovery on (the default); "_fixed1452": every datagram 1,452 bytes.
        foreach (var (runs, suffix, label) in new[] { (tou, "", "PMTU discovery on"), (touFixed, "_fixed1452", "1,452-byte datagrams") })
        {
            double touGbps = Median(runs.Select(r => r.Gbps)), touCpu = Median(runs.Select(r => r.CpuSecondsPerGb));
            double perSend = Median(runs.Select(r => r.DatagramsPerSendCall)), perReceive = Median(runs.Select(r => r.DatagramsPerReceiveCall));
            double acksPerSegment = Median(runs.Select(r => r.AcksPerDataSegment));
            double contentions = Median(runs.Select(r => r.LockContentionsPerMb));
            Record($"bulk_{direction}{suffix}_tou_lock_contentions_per_mb", contentions);
            Record($"bulk_{direction}{suffix}_tou_gbps", touGbps);
            Record($"bulk_{direction}{suffix}_tou_tcp_ratio", touGbps / tcpGbps);
            Record($"bulk_{direction}{suffix}_tou_cpu_s_per_gb", touCpu);
            Record($"bulk_{direction}{suffix}_cpu_tou_tcp_ratio", touCpu / tcpCpu);
            Record($"bulk_{direction}{suffix}_tou_datagrams_per_send_call", perSend);
            Record($"bulk_{direction}{suffix}_tou_datagrams_per_receive_call", perReceive);
            Record($"bulk_{direction}{suffix}_tou_acks_per_data_segment", acksPerSegment);
            table.Add(($"bulk {direction}, {label}, {bulkBytes / 1e6:0} MB one stream", $"{touGbps:0.00} Gbit/s", $"{tcpGbps:0.00} Gbit/s", $"{touGbps / tcpGbps:0.00}"));
            table.Add(($"bulk {direction}, {label}, process CPU s per GB", $"{touCpu:0.00}", $"{tcpCpu:0.00}", $"{touCpu / tcpCpu:0.00}"));
            table.Add(($"bulk {direction}, {label}, datagrams per send / receive call, ACKs per segment", $"{perSend:0.0} / {perReceive:0.0}, {acksPerSegment:0.00}", "", ""));
            table.Add(($"bulk {direction}, {label}, lock contentions per MB", $"{contentions:0.0}", "", ""));
            bulkSummary.Add($"{direction}, {label}: TOU {touGbps:0.00} Gbit/s ({touCpu:0.00} CPU s/GB; {perSend:0.0} datagrams per send call, {perReceive:0.0} per receive call, {acksPerSegment:0.00} ACKs per segment), TCP {tcpGbps:0.00} Gbit/s ({tcpCpu:0.00} CPU s/GB)");
        }
    }

    // How late the transport served deadlines (pacing, delayed ACKs, ...) during the TOU bulk runs: pacing precision.
    Record("bulk_timer_lateness_p50_us", TimerLateness.Percentile(50));
    Record("bulk_timer_lateness_p99_us", TimerLateness.Percentile(99));
    table.Add(("bulk, deadlines served late by p50 / p99 (power-of-two buckets)", $"{TimerLateness.Percentile(50)} / {TimerLateness.Percentile(99)} µs ({TimerLateness.Count:N0} deadlines)", "", ""));

    // The integrity trailer's cost, uploads with and without it alternating.
    var withIntegrity = new List<double>();
    var withoutIntegrity = new List<double>();
    for (int run = 0; run < 3; run++)
    {
        withoutIntegrity.Add((await Bulk.TouAsync(bulkBytes, integrity: false)).Gbps);
        withIntegrity.Add((await Bulk.TouAsync(bulkBytes)).Gbps);
    }

    Record("bulk_upload_tou_without_integrity_gbps", Median(withoutIntegrity));
    Record("bulk_upload_tou_with_integrity_gbps", Median(withIntegrity));
    table.Add(("bulk upload with / without the integrity trailer", $"{Median(withIntegrity):0.00} / {Median(withoutIntegrity):0.00} Gbit/s", "", ""));

    if (args.Contains("--bulk-only"))
    {
        bulkSummary.ForEach(Console.WriteLine);
        Console.WriteLine($"upload with the integrity trailer {Median(withIntegrity):0.00} Gbit/s, without {Median(withoutIntegrity):0.00}");
        return;
    }
}

// (b) HTTP/1.1 against the same minimal app served over both, the TOU listener with its default shards (one socket per
// processor) and with one socket; TCP is measured beside each so every ratio comes from one stretch of the run.
var duration = TimeSpan.FromSeconds(quick ? 4 : 10);
int defaultShards = OperatingSystem.IsLinux() ? Math.Clamp(Environment.ProcessorCount, 1, TouTransportOptions.MaxListenerShards) : 1;
Record("http_listener_shards_default", defaultShards);
foreach (int shards in new[] { 0, 1 })
{
    string suffix = shards == 1 ? "_1shard" : "";
    string label = shards == 1 ? ", 1 listener shard" : $", {defaultShards} shards";
    await using var app = await Http.StartAppAsync(shards);

    await Http.WarmUpAsync(app, rounds: shards == 0 ? 3 : 1); // the JIT's tiers are the process's: the second app needs less
    foreach (int connections in new[] { 1, 32, 64 })
    {
        var tou = await Http.LoadAsync(app.TouUri, connections, duration, tou: true);
        var tcp = await Http.LoadAsync(app.TcpUri, connections, duration, tou: false);
        Record($"http_{connections}conn_tou_rps{suffix}", tou.Rps);
        Record($"http_{connections}conn_tcp_rps{suffix}", tcp.Rps);
        Record($"http_{connections}conn_tou_tcp_ratio{suffix}", tou.Rps / tcp.Rps);
        Record($"http_{connections}conn_tou_p50_us{suffix}", tou.P50Us);
        Record($"http_{connections}conn_tou_p99_us{suffix}", tou.P99Us);
        Record($"http_{connections}conn_tcp_p50_us{suffix}", tcp.P50Us);
        Record($"http_{connections}conn_tcp_p99_us{suffix}", tcp.P99Us);
        Record($"http_{connections}conn_p99_tou_tcp_ratio{suffix}", tou.P99Us / tcp.P99Us);
        Record($"http_{connections}conn_tou_cpu_us_per_request{suffix}", tou.CpuUsPerRequest);
        Record($"http_{connections}conn_tcp_cpu_us_per_request{suffix}", tcp.CpuUsPerRequest);
        Record($"http_{connections}conn_tou_work_items_per_request{suffix}", tou.WorkItemsPerRequest);
        Record($"http_{connections}conn_tcp_work_items_per_request{suffix}", tcp.WorkItemsPerRequest);
        Record($"http_{connections}conn_tou_lock_contentions_per_request{suffix}", tou.LockContentionsPerRequest);
        table.Add(($"HTTP/1.1 {connections} conn{label}, requests/s", $"{tou.Rps:N0}", $"{tcp.Rps:N0}", $"{tou.Rps / tcp.Rps:0.00}"));
        table.Add(($"HTTP/1.1 {connections} conn{label}, p50 / p99 µs", $"{tou.P50Us:N0} / {tou.P99Us:N0}", $"{tcp.P50Us:N0} / {tcp.P99Us:N0}", ""));
        table.Add(($"HTTP/1.1 {connections} conn{label}, CPU µs / work items per request", $"{tou.CpuUsPerRequest:0.0} / {tou.WorkItemsPerRequest:0.00}", $"{tcp.CpuUsPerRequest:0.0} / {tcp.WorkItemsPerRequest:0.00}", $"{tou.CpuUsPerRequest / tcp.CpuUsPerRequest:0.00}"));
    }
}

if (httpOnly)
{
    PrintTable();
    await WriteResultsAsync();
    return;
}

// (c) the impairment relay's own figures, then TOU (default, CUBIC, BBR) and kcptun through it on a 100 Mbit/s path
await RelaySection.RunAsync(quick, Record, table);

// (d) connection setup and memory per idle connection
var (touSetup, tcpSetup) = await Setup.MeasureAsync(quick ? 100 : 300);
Record("setup_tou_p50_us", touSetup.P50Us);
Record("setup_tou_p99_us", touSetup.P99Us);
Record("setup_tcp_p50_us", tcpSetup.P50Us);
Record("setup_tcp_p99_us", tcpSetup.P99Us);
Record("setup_p50_tou_tcp_ratio", touSetup.P50Us / tcpSetup.P50Us);
table.Add(("connection setup p50 / p99 µs", $"{touSetup.P50Us:N0} / {touSetup.P99Us:N0}", $"{tcpSetup.P50Us:N0} / {tcpSetup.P99Us:N0}", ""));
var (touMemory, tcpMemory) = await Setup.IdleMemoryAsync(1000);
Record("idle_connection_tou_bytes", touMemory);
Record("idle_connection_tcp_bytes", tcpMemory);
table.Add(("managed memory per idle connection (both ends), 1,000 open", $"{touMemory / 1024:N1} KiB", $"{tcpMemory / 1024:N1} KiB", ""));

PrintTable();
await WriteResultsAsync();

void PrintTable()
{
    Console.WriteLine();
    Console.WriteLine($"| {"figure",-66} | {"TOU",-20} | {"TCP",-20} | {"TOU/TCP",-7} |");
    Console.WriteLine($"|{new string('-', 68)}|{new string('-', 22)}|{new string('-', 22)}|{new string('-', 9)}|");
    foreach (var (figure, tou, tcp, ratio) in table)
    {
        Console.WriteLine($"| {figure,-66} | {tou,-20} | {tcp,-20} | {ratio,-7} |");
    }
}

async Task WriteResultsAsync()
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    await File.WriteAllTextAsync(output, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"\nwrote {output}");
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted[sorted.Length / 2];
}
