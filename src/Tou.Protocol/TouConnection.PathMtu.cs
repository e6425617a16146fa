using Tou.Protocol.Wire;

namespace Tou.Protocol;

// Path MTU discovery (docs/protocol.md §5.5): the probes this side sends and the answers it reads, the answers it owes
// the peer's probes, and what a new datagram size does to the connection. PathMtuDiscovery decides sizes; this decides
// when a probe may leave.
public sealed partial class TouConnection
{
    /// <summary>The datagram that carries <paramref name="mss"/> data bytes (with room for the trailer when extended).</summary>
    private int DatagramSizeOf(int mss) => mss + TouHeader.Size + (_agreed.Extended ? Extensions.TrailerSize : 0) + IdOverhead;

    /// <summary>Established: search if this side wants to and the peer answers probes (a SYN cookie's server learns that later).</summary>
    private void StartPathMtuDiscovery(long nowUs)
    {
        if (!_agreed.Extended || !_agreed.PathMtuProbes || !_options.EnablePathMtuDiscovery || _pmtu.IsEnabled)
        {
            return;
        }

        // An interface that cannot carry the initial size (a 1,400-byte VPN, a 1,450-byte overlay) lowers it: with the
        // don't-fragment bit the local stack would refuse every full-size datagram.
        int ceiling = Math.Min(Math.Min(_host?.LocalDatagramLimit ?? _options.MaxDatagramSize, _peerMaxDatagram), _options.MaxDatagramSize);
        _pmtu.Start(Math.Min(DatagramSizeOf(_sendMss), Math.Max(ceiling, 128)), ceiling, nowUs);
        ApplyPathMtu(wasSearching: false, "the local interface is smaller");
        Notify();
    }

    /// <summary>The size of the probe that may go now, or 0: none during loss recovery or once this side sent its FIN (nothing more to send).</summary>
    private int DueProbeSize => _finSent || _loss.InRecovery ? 0 : _pmtu.DueProbeSize;

    /// <summary>
    /// A probe: ACK, PING and an option block with the PROBE TLV and its token, padded with zeros to the size under
    /// test. It carries no data (nothing to retransmit when it is lost) and is not counted in flight, so a lost probe
    /// neither stalls data nor reads as congestion. It goes when the congestion window has room for it, when nothing is
    /// in flight, or — so that a sender that always has data still probes — when it is at most a quarter of the window,
    /// which it then exceeds by that one packet (once per probe timeout at most). It does not wait for the pacer.
    /// </summary>
    private int BuildProbe(long nowUs, Span<byte> buffer)
    {
        int size = DueProbeSize;
        if (size == 0 || !(CongestionAllows(size) || size <= _congestion.CongestionWindow / 4))
        {
            return 0;
        }

        int payload = size - TouHeader.Size - TrailerLength;
        uint token = _pmtu.OnProbeSent(size, nowUs, _rtt.RtoUs);
        PathMtuOptions.WriteProbe(buffer.Slice(TouHeader.Size, payload), token);
        return FinishPacket(buffer, TouFlags.Ack | TouFlags.Ping | TouFlags.Options, SendSeq(_sndNxt), AckField, payload);
    }

    /// <summary>Appends the PROBE_ECHO TLV owed to the peer's probe to an ACK's option block; returns the block's new length.</summary>
    private int AppendProbeEcho(Span<byte> payload, int optionsLength)
    {
        if (!_pmtu.EchoOwed)
        {
            return optionsLength;
        }

        int end = Math.Max(optionsLength, 1);
        end += PathMtuOptions.WriteEcho(payload[end..], _pmtu.TakeEcho());
        payload[0] = (byte)(end - 1);
        return end;
    }

    /// <summary>
    /// An option block with a PROBE TLV is the peer's probe: the answer (an immediate ACK echoing its token) is owed, and
    /// true says the payload after the block is padding. A SYN cookie's server learns here that the client answers probes.
    /// </summary>
    private bool NoteProbe(long nowUs, ReadOnlySpan<byte> options)
    {
        if (!_agreed.Extended || !PathMtuOptions.TryReadProbe(options, out uint token))
        {
            return false;
        }

        _pmtu.OnProbeReceived(token);
        _acks.RequestImmediate();
        if (!_agreed.PathMtuProbes)
        {
            _agreed.PathMtuProbes = true;
            StartPathMtuDiscovery(nowUs);
        }

        return true;
    }

    /// <summary>An ACK's option block may echo our probe: a confirmed size raises the segment size.</summary>
    private void ReadProbeEcho(long nowUs, ReadOnlySpan<byte> options)
    {
        if (_pmtu.IsEnabled && PathMtuOptions.TryReadEcho(options, out uint token))
        {
            bool wasSearching = _pmtu.IsSearching;
            _pmtu.OnEcho(token, nowUs);
            ApplyPathMtu(wasSearching, "probe confirmed");
        }
    }

    /// <summary>The path MTU timer: a probe went unanswered, or the raise timer starts a new search.</summary>
    private void OnPathMtuTimer(long nowUs)
    {
        bool wasSearching = _pmtu.IsSearching;
        long lost = Stats.PathMtuProbesLost;
        _pmtu.OnTimer(nowUs);
        if (Stats.PathMtuProbesLost > lost)
        {
            Log.PathMtuProbeLost(_logger, Id, _pmtu.LastProbeSize);
        }

        ApplyPathMtu(wasSearching, "search");
    }

    /// <summary>The host could not send a datagram of <paramref name="length"/> bytes to the peer: the local stack found it too large.</summary>
    internal void OnDatagramTooLarge(long nowUs, int length)
    {
        if (_phase != Phase.Established || CloseReason != TouCloseReason.None)
        {
            return;
        }

        bool wasSearching = _pmtu.IsSearching;
        _pmtu.OnTooLarge(length, nowUs);
        ApplyPathMtu(wasSearching, $"the local stack refused {length} bytes");
        Notify();
    }

    /// <summary>Consecutive retransmission timeouts: a black hole, so back to the base size (from the base, to the minimum).</summary>
    private void CheckBlackHole(long nowUs)
    {
        if (_pmtu.OnRetransmissionTimeout(_consecutiveRtos, nowUs))
        {
            Log.PathMtuBlackHole(_logger, Id, _pmtu.Current);
            ApplyPathMtu(wasSearching: false, "black hole");
        }
    }

    /// <summary>Takes the size discovery settled on as the segment size, and logs a finished search.</summary>
    private void ApplyPathMtu(bool wasSearching, string reason)
    {
        int mss = AgreedOptions.MssForDatagram(_pmtu.Current) - IdOverhead;
        if (mss != _sendMss)
        {
            int before = Stats.DatagramSize;
            _sendMss = mss;
            _congestion.OnSegmentSizeChanged(mss);
            _loss.Start(_agreed.Sack, mss);
            Stats.DatagramSize = DatagramSizeOf(mss);
            Log.DatagramSizeChanged(_logger, Id, before, Stats.DatagramSize, reason);
        }

        if (wasSearching && !_pmtu.IsSearching)
        {
            Log.PathMtuSearchDone(_logger, Id, _pmtu.Current, Stats.PathMtuProbesSent);
        }
    }
}
