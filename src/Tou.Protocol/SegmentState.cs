namespace Tou.Protocol;

[Flags]
internal enum SegmentState : byte
{
    None = 0,

    /// <summary>Sent and counted in bytes in flight.</summary>
    InFlight = 1,

    /// <summary>Selectively acknowledged; never sent again.</summary>
    Sacked = 2,

    /// <summary>Declared lost; waits for retransmission.</summary>
    Lost = 4,

    /// <summary>Sent more than once, so its acknowledgement gives no RTT sample (Karn).</summary>
    Retransmitted = 8,

    /// <summary>The segment is the FIN (no data, one sequence number).</summary>
    Fin = 16,

    /// <summary>Sent while the application had nothing more to send (its rate sample understates the path).</summary>
    AppLimited = 32,

    /// <summary>Sent again by a tail loss probe without being declared lost: an early acknowledgement of it says nothing
    /// about reordering (the original may simply have been acknowledged late).</summary>
    Probed = 64,
}
