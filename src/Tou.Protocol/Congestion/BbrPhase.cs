namespace Tou.Protocol.Congestion;

/// <summary>Where <see cref="BbrCongestionController"/> stands in its state machine.</summary>
internal enum BbrPhase
{
    /// <summary>Doubling the sending rate each round until the bandwidth stops growing, loss passes the threshold or a queue grows.</summary>
    Startup,

    /// <summary>Pacing below the bandwidth until the queue Startup built is gone.</summary>
    Drain,

    /// <summary>ProbeBW: pacing at 0.9× to leave room (and drain what probing queued) before cruising.</summary>
    ProbeDown,

    /// <summary>ProbeBW: pacing at the bandwidth, in flight kept below the learned bound with headroom.</summary>
    ProbeCruise,

    /// <summary>ProbeBW: one round at the bandwidth with the short-term bounds lifted, to fill the pipe before probing.</summary>
    ProbeRefill,

    /// <summary>ProbeBW: pacing at 1.25× and raising the in-flight bound until loss or a queue says stop.</summary>
    ProbeUp,

    /// <summary>Half a BDP in flight for 200 ms and a round, to see the path's minimum RTT again.</summary>
    ProbeRtt,
}
