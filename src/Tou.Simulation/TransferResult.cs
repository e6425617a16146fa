using Tou.Protocol;

namespace Tou.Simulation;

/// <summary>Outcome of a <see cref="TransferScenario"/>.</summary>
public sealed record TransferResult
{
    /// <summary>Both sides read everything and both connections closed within the time allowed (else see <see cref="Failure"/>).</summary>
    public required bool Completed { get; init; }

    /// <summary>Both directions arrived byte-exact (SHA-256 of what was written equals that of what was read).</summary>
    public required bool BytesExact { get; init; }

    /// <summary>How the client's connection ended (<see cref="TouCloseReason.Graceful"/> when all went well).</summary>
    public required TouCloseReason ClientCloseReason { get; init; }

    /// <summary>How the server's connection ended; <see cref="TouCloseReason.None"/> if it was never accepted.</summary>
    public required TouCloseReason ServerCloseReason { get; init; }

    /// <summary>Virtual time from the connect call until both sides had read everything.</summary>
    public required long TransferUs { get; init; }

    /// <summary>Virtual time until both connections were closed.</summary>
    public required long TotalUs { get; init; }

    /// <summary>Application bytes the client sent to the server.</summary>
    public required long UploadBytes { get; init; }

    /// <summary>Application bytes the server sent to the client.</summary>
    public required long DownloadBytes { get; init; }

    /// <summary>The client connection's counters.</summary>
    public required TouConnectionStats ClientStats { get; init; }

    /// <summary>The server connection's counters (all zero if it was never accepted).</summary>
    public required TouConnectionStats ServerStats { get; init; }

    /// <summary>What the network carried and what its impairments did.</summary>
    public required NetworkStats Network { get; init; }

    /// <summary>Why the run did not complete (where each side stood), or null when it did.</summary>
    public string? Failure { get; init; }

    /// <summary>Application bytes per second of virtual time, both directions together, in Mbit/s.</summary>
    public double GoodputMbps => TransferUs <= 0 ? 0 : (UploadBytes + DownloadBytes) * 8.0 / TransferUs;
}
