using Tou.Protocol;

namespace Tou.Simulation;

/// <summary>Outcome of a <see cref="TransferScenario"/>.</summary>
public sealed record TransferResult
{
    public required bool Completed { get; init; }

    /// <summary>Both directions arrived byte-exact (SHA-256 of what was written equals that of what was read).</summary>
    public required bool BytesExact { get; init; }

    public required TouCloseReason ClientCloseReason { get; init; }

    public required TouCloseReason ServerCloseReason { get; init; }

    /// <summary>Virtual time from the connect call until both sides had read everything.</summary>
    public required long TransferUs { get; init; }

    /// <summary>Virtual time until both connections were closed.</summary>
    public required long TotalUs { get; init; }

    public required long UploadBytes { get; init; }

    public required long DownloadBytes { get; init; }

    public required TouConnectionStats ClientStats { get; init; }

    public required TouConnectionStats ServerStats { get; init; }

    public required NetworkStats Network { get; init; }

    public string? Failure { get; init; }

    /// <summary>Application bytes per second of virtual time, both directions together, in Mbit/s.</summary>
    public double GoodputMbps => TransferUs <= 0 ? 0 : (UploadBytes + DownloadBytes) * 8.0 / TransferUs;
}
