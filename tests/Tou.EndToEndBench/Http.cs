using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Tou.Kestrel;

namespace Tou.EndToEndBench;

/// <summary>The minimal "Hello, World!" app on TCP and TOU, driven by one load generator.</summary>
internal static class Http
{
    public sealed class App(WebApplication app, Uri tcp, Uri tou) : IAsyncDisposable
    {
        public Uri TcpUri { get; } = tcp;

        public Uri TouUri { get; } = tou;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <param name="listenerShards">TouTransportOptions.ListenerShards of the TOU listener (0: the default, one per processor).</param>
    public static async Task<App> StartAppAsync(int listenerShards = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTou(o => o.ListenerShards = listenerShards);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.ListenTou(IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        app.MapGet("/", () => "Hello, World!");
        await app.StartAsync();
        var tcp = app.Urls.First(u => !u.Contains("tou:", StringComparison.Ordinal));
        TouEndPoint.TryParse(app.Urls.First(u => u.Contains("tou:", StringComparison.Ordinal)), out var tou);
        return new App(app, new Uri(tcp), new Uri($"http://{tou!.IPEndPoint}/"));
    }

    /// <summary>
    /// Loads each transport in turn, <paramref name="rounds"/> times two seconds each, then pauses for the background
    /// compiler. The framework's TCP transport is precompiled and TOU's is not, and Kestrel and HttpClient tier up
    /// through instrumented code: after one round, five three-second loads in a row still grew 1.5-2× from the first to
    /// the last over either transport (session 7), so one round measured both before their steady state.
    /// </summary>
    public static async Task WarmUpAsync(App app, int rounds = 3)
    {
        for (int round = 0; round < rounds; round++)
        {
            await LoadAsync(app.TouUri, 32, TimeSpan.FromSeconds(2), tou: true);
            await LoadAsync(app.TcpUri, 32, TimeSpan.FromSeconds(2), tou: false);
        }

        await Task.Delay(500);
    }

    /// <summary>Each connection is its own client issuing requests back to back; latency of every request is kept.</summary>
    public static async Task<HttpLoad> LoadAsync(Uri uri, int connections, TimeSpan duration, bool tou)
    {
        var factory = new TouConnectionFactory();
        var clients = Enumerable.Range(0, connections).Select(_ =>
        {
            var handler = tou ? TouHttp.CreateHandler(factory) : new SocketsHttpHandler();
            handler.MaxConnectionsPerServer = 1;
            return new HttpClient(handler) { BaseAddress = uri };
        }).ToList();

        // Warm up every connection (and the JIT) before measuring.
        await Task.WhenAll(clients.Select(c => c.GetStringAsync("/")));
        var latencies = new List<long>[connections];
        long workItems = ThreadPool.CompletedWorkItemCount;
        long contentions = Monitor.LockContentionCount;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(clients.Select((client, i) => Task.Run(async () =>
        {
            var mine = latencies[i] = new List<long>(100_000);
            while (stopwatch.Elapsed < duration)
            {
                long start = Stopwatch.GetTimestamp();
                using var response = await client.GetAsync("/", HttpCompletionOption.ResponseContentRead);
                mine.Add(Stopwatch.GetTimestamp() - start);
            }
        })));
        double seconds = stopwatch.Elapsed.TotalSeconds;
        double cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        workItems = ThreadPool.CompletedWorkItemCount - workItems;
        contentions = Monitor.LockContentionCount - contentions;
        foreach (var client in clients)
        {
            client.Dispose();
        }

        var all = latencies.SelectMany(l => l).Order().ToArray();
        double Us(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
        return new HttpLoad(all.Length / seconds, Us(all[all.Length / 2]), Us(all[(int)(all.Length * 0.99)]), cpuUs / all.Length, (double)workItems / all.Length, (double)contentions / all.Length);
    }
}
