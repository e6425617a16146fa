using Tou.Protocol.Tracing;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>The connection's side of qlog tracing (<see cref="TouOptions.ConnectionTrace"/>): what the tracer may read.</summary>
public sealed partial class TouConnection
{
    private QlogTracer? _trace; // null unless the endpoint traces: every hook is one null check then

    private void StartTrace(long nowUs)
    {
        if (_options.ConnectionTrace?.Invoke(this) is { } stream)
        {
            _trace = new QlogTracer(this, stream, nowUs);
        }
    }

    private void EndTrace()
    {
        _trace?.Dispose();
        _trace = null;
    }

    /// <summary>The phase as qlog names it ("syn_sent", "established", "closed", ...).</summary>
    internal string TracePhase => _phase switch
    {
        Phase.SynSent => "syn_sent",
        Phase.SynReceived => "syn_received",
        Phase.Established when CloseReason == TouCloseReason.None => "established",
        Phase.Established => "closing",
        Phase.TimeWait => "time_wait",
        _ => "closed",
    };

    /// <summary>Whether sequence numbers map to stream offsets yet (both initial numbers known).</summary>
    internal bool TraceSynchronized => _phase is not (Phase.SynSent or Phase.SynReceived);

    internal long TraceSendOffset(uint sequence) => SendOffset(new SequenceNumber(sequence));

    internal long TraceReceiveOffset(uint sequence) => ReceiveOffset(new SequenceNumber(sequence));

    internal long TraceAcknowledgedOffset => _sndUna;

    /// <summary>How far the peer's advertised window lets this side send (a stream offset).</summary>
    internal long TraceWindowLimit => _sndUna + _peerWindow.Window;

    internal long TraceMinRttUs => _rtt.MinRttUs == long.MaxValue ? 0 : _rtt.MinRttUs;

    internal long TraceRttVarianceUs => _rtt.RttVarUs;

    /// <summary>The pacing rate in bit/s (0 with pacing off or before the handshake).</summary>
    internal double TracePacingRate => _congestion is null || !_options.EnablePacing
        ? 0
        : Pacer.BytesPerUs(_congestion.PacingRate, _congestion.InSlowStart, _congestion.CongestionWindow, _rtt.SmoothedRttUs) * 8e6;
}
