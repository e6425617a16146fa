using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Tou.Kestrel;
using Tou.Transport;

namespace Tou.Samples.Farm;

/// <summary>
/// Many HTTP-over-TOU clients through the load balancer. Each client is its own HttpClient, so its own TOU connection
/// and UDP socket: the balancer sees a distinct source port per client and hashes each independently.
/// </summary>
internal static class FarmDriver
{
    private static readonly TimeSpan HealthDeadline = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(Settings settings)
    {
        foreach (var (name, port) in settings.Backends)
        {
            if (!await WaitHealthyAsync(name, port))
            {
                return 1;
            }
        }

        var factory = new TouConnectionFactory(Options.Create(new TouTransportOptions { Protocol = { EnableConnectionIds = settings.ConnectionIds } }));
        var halfway = new Halfway(settings.Clients, settings.Between);
        var clock = Stopwatch.StartNew();
        halfway.Clock = clock;
        var results = await Task.WhenAll(Enumerable.Range(0, settings.Clients).Select(c => RunClientAsync(settings, factory, halfway, c)));
        clock.Stop();
        if (halfway.ResumedAt is TimeSpan resumed)
        {
            Console.WriteLine($"second half, after the command: {(clock.Elapsed - resumed).TotalSeconds:0.0} s");
        }

        return Report(settings, results, clock.Elapsed);
    }

    /// <summary>A health check as a balancer would do it: the backend's own port, not through the balancer.</summary>
    private static async Task<bool> WaitHealthyAsync(string name, int port)
    {
        var deadline = Stopwatch.StartNew();
        string? last = null;
        while (deadline.Elapsed < HealthDeadline)
        {
            try
            {
                using var http = TouHttp.CreateClient(new Uri($"http://127.0.0.1:{port}/"));
                http.Timeout = TimeSpan.FromSeconds(5);
                using var response = await http.GetAsync("health");
                var body = await response.Content.ReadAsStringAsync();
                if (response.IsSuccessStatusCode && body == "ok" && ServerOf(response) == name)
                {
                    Console.WriteLine($"health: {name} on 127.0.0.1:{port} ok");
                    return true;
                }

                last = $"{(int)response.StatusCode} {ServerOf(response)} {body}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.GetBaseException().Message;
            }

            await Task.Delay(250);
        }

        Console.Error.WriteLine($"error: {name} on 127.0.0.1:{port} was not healthy within {HealthDeadline.TotalSeconds} s ({last})");
        return false;
    }

    /// <summary>One client's requests, one after another on its one connection; every body is checked.</summary>
    private static async Task<ClientResult> RunClientAsync(Settings settings, TouConnectionFactory factory, Halfway halfway, int client)
    {
        var servers = new List<string>();
        var failures = new List<string>();
        var random = new Random(client);
        using var http = TouHttp.CreateClient(new Uri($"http://127.0.0.1:{settings.BalancerPort}/"), factory);
        http.Timeout = TimeSpan.FromSeconds(30);
        for (int i = 0; i < settings.Requests; i++)
        {
            if (i == settings.Requests / 2)
            {
                await halfway.ArriveAsync();
            }

            // 1 byte to 48 KiB: single datagrams and multi-datagram bodies with their ACKs through the balancer.
            var payload = new byte[random.Next(1, 48 * 1024)];
            random.NextBytes(payload);
            try
            {
                using var response = await http.PostAsync("work", new ByteArrayContent(payload));
                var body = await response.Content.ReadAsByteArrayAsync();
                var server = ServerOf(response);
                Array.Reverse(payload);
                if (!response.IsSuccessStatusCode || server is null || !settings.Backends.ContainsKey(server) || !body.AsSpan().SequenceEqual(payload))
                {
                    failures.Add($"client {client} request {i}: status {(int)response.StatusCode}, server '{server}', {body.Length} of {payload.Length} bytes, content {(body.AsSpan().SequenceEqual(payload) ? "right" : "WRONG")}");
                    continue;
                }

                servers.Add(server);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                failures.Add($"client {client} request {i}: {e.GetType().Name}: {e.GetBaseException().Message}");
            }
        }

        return new ClientResult(servers, failures);
    }

    private static int Report(Settings settings, ClientResult[] results, TimeSpan elapsed)
    {
        int total = settings.Clients * settings.Requests;
        int verified = results.Sum(r => r.Servers.Count);
        Console.WriteLine();
        Console.WriteLine($"{settings.Clients} clients x {settings.Requests} requests through the balancer on 127.0.0.1:{settings.BalancerPort} in {elapsed.TotalSeconds:0.0} s" +
            $" (connection IDs {(settings.ConnectionIds ? "on" : "off")}{(settings.Between is null ? "" : ", the balancer changed halfway")})");
        Console.WriteLine($"{"server",-8} {"port",6} {"clients",8} {"requests",9} {"share",6}");
        var empty = new List<string>();
        foreach (var (name, port) in settings.Backends)
        {
            int clients = results.Count(r => r.Servers.Count > 0 && r.Servers[0] == name);
            int requests = results.Sum(r => r.Servers.Count(s => s == name));
            Console.WriteLine($"{name,-8} {port,6} {clients,8} {requests,9} {(double)requests / Math.Max(verified, 1),6:P0}");
            if (requests == 0)
            {
                empty.Add(name);
            }
        }

        // 4-tuple hashing keeps a connection on one backend; a client that moved between backends would mean the
        // balancer split one TOU connection, which TOU cannot survive unless the backends share state.
        int moved = results.Count(r => r.Servers.Distinct().Count() > 1);
        Console.WriteLine($"verified {verified} of {total} responses; clients that stayed on one backend: {settings.Clients - moved} of {settings.Clients}");
        foreach (var failure in results.SelectMany(r => r.Failures).Take(20))
        {
            Console.Error.WriteLine($"error: {failure}");
        }

        if (verified != total || moved > 0 || empty.Count > 0)
        {
            Console.Error.WriteLine($"FAILED: {total - verified} responses failed, {moved} clients moved, backends without requests: [{string.Join(", ", empty)}]");
            return 1;
        }

        Console.WriteLine("all responses verified");
        return 0;
    }

    private static string? ServerOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues(FarmServer.ServerHeader, out var values) ? values.FirstOrDefault() : null;

    /// <summary>One client's outcome: the backend that answered each verified request, and what failed.</summary>
    private sealed record ClientResult(List<string> Servers, List<string> Failures);

    /// <summary>The driver's command line.</summary>
    internal sealed record Settings(int BalancerPort, int Clients, int Requests, IReadOnlyDictionary<string, int> Backends, bool ConnectionIds, string? Between)
    {
        /// <summary>The driver's arguments after the three numbers, or null when they do not parse.</summary>
        public static Settings? TryParse(string balancerPort, string clients, string requests, string[] rest)
        {
            bool ids = false;
            string? between = null;
            var named = new Dictionary<string, int>();
            for (int i = 0; i < rest.Length; i++)
            {
                switch (rest[i])
                {
                    case "--connection-ids":
                        ids = true;
                        break;
                    case "--between" when i + 1 < rest.Length:
                        between = rest[++i];
                        break;
                    case var backend when backend.Split('=') is [var name, var port] && !named.ContainsKey(name):
                        named.Add(name, Int(port));
                        break;
                    default:
                        return null;
                }
            }

            return named.Count == 0 ? null : new Settings(Int(balancerPort), Int(clients), Int(requests), named, ids, between);
        }

        private static int Int(string value) => int.Parse(value, CultureInfo.InvariantCulture);
    }
}
