namespace Tou.EndToEndBench;

/// <summary>What one HTTP/1.1 load measured.</summary>
/// <param name="Rps">Requests completed per second.</param>
/// <param name="P50Us">Median request latency, µs.</param>
/// <param name="P99Us">99th-percentile request latency, µs.</param>
/// <param name="CpuUsPerRequest">The process's CPU time per request, µs (client and server both run in this process):
/// at 32 and 64 connections the two cores are busy, so this is what bounds requests per second.</param>
/// <param name="WorkItemsPerRequest">Thread-pool work items per request: each is a hand-off to another thread.</param>
/// <param name="LockContentionsPerRequest">Times per request a thread found a lock taken (the process's
/// <see cref="Monitor.LockContentionCount"/>): for TOU mostly the endpoint's gate, between its I/O loop and the
/// application threads whose writes send inline.</param>
internal readonly record struct HttpLoad(double Rps, double P50Us, double P99Us, double CpuUsPerRequest, double WorkItemsPerRequest, double LockContentionsPerRequest);
