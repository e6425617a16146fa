using System.Buffers.Binary;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

public sealed partial class TouConnection
{
    /// <summary>Smallest buffer <see cref="PollTransmit"/> accepts.</summary>
    internal int MaxDatagramLength => Math.Max(_options.MaxDatagramSize, SeedMaxDatagram);

    /// <summary>
    /// Writes the next datagram this connection wants to send into <paramref name="buffer"/> and returns its
    /// length, or 0 when there is nothing to send now (see <see cref="NextDeadline"/>).
    /// </summary>
    internal int PollTransmit(long nowUs, Span<byte> buffer)
    {
        if (buffer.Length < MaxDatagramLength)
        {
            throw new ArgumentException($"The transmit buffer needs at least {MaxDatagramLength} bytes; it has {buffer.Length}.", nameof(buffer));
        }

        int length = BuildNext(nowUs, buffer);
        if (length > 0)
        {
            // The SYN+ACK carries its own CRC32C (the client has no key before reading it); all else is tagged.
            if (_agreed.Integrity && ((TouFlags)buffer[12] & TouFlags.Syn) == 0)
            {
                length = AppendTag(buffer, length);
            }

            Stats.PacketsSent++;
            Stats.BytesSent += length;
            _trace?.PacketSent(nowUs, buffer[..length], Stats.Retransmissions);
            if (_logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Trace) && TouHeader.TryRead(buffer[..length], out var h))
            {
                Log.PacketSent(_logger, Id, h);
            }
        }

        return length;
    }

    private int BuildNext(long nowUs, Span<byte> buffer)
    {
        switch (_phase)
        {
            case Phase.Released:
                return 0;
            case Phase.SynSent:
                if (_halfOpenResetSeq is { } resetSeq)
                {
                    _halfOpenResetSeq = null;
                    Stats.ResetsSent++;
                    return WriteHeader(buffer, TouFlags.Rst, new SequenceNumber(resetSeq), 0, 0, 0);
                }

                return _rstPending ? BuildRst(buffer) : BuildSyn(nowUs, buffer);
            case Phase.SynReceived:
                return _rstPending ? BuildRst(buffer) : BuildSynAck(nowUs, buffer);
        }

        if (_rstPending)
        {
            return BuildRst(buffer);
        }

        if (_handshakeAckPending)
        {
            _handshakeAckPending = false;
            return FinishPacket(buffer, TouFlags.Ack, SendSeq(0), _receiveSeqBase.Value, 0, unscaledWindow: true);
        }

        if (_acks.TryTakePlainFinAck(out uint finAckSeq, out uint finAckAck))
        {
            return FinishPacket(buffer, TouFlags.Ack, new SequenceNumber(finAckSeq), finAckAck, 0);
        }

        if (_acks.TakeChallenge())
        {
            Stats.ChallengeAcks++;
            return BuildAck(buffer);
        }

        if (_phase == Phase.Established && CloseReason == TouCloseReason.None)
        {
            int path = BuildPathPacket(buffer, nowUs);
            if (path > 0)
            {
                return path; // a path challenge or response: small, and it decides where the connection goes
            }

            if (_pmtu.EchoOwed)
            {
                return BuildAck(buffer); // the answer to the peer's path MTU probe
            }

            int n = BuildSegment(nowUs, buffer);
            if (n > 0 || (n = BuildProbe(nowUs, buffer)) > 0)
            {
                return n;
            }

            if (_pingPending)
            {
                _pingPending = false;
                return BuildPing(buffer);
            }
        }

        if (_acks.Pending)
        {
            return BuildAck(buffer);
        }

        return 0;
    }

    private int BuildRst(Span<byte> buffer)
    {
        // An RST carries the next sequence number, after our FIN if we sent one. While that FIN is unacknowledged we
        // cannot know whether the peer got it, so without a tag (which makes any in-window RST acceptable) a second
        // RST goes out at the FIN's own number: one of the two sits exactly where the peer expects.
        long offset = SendLimit;
        if (_finSent && !_finAcked && !_agreed.Integrity && !_secondRstSent)
        {
            _secondRstSent = true;
            offset = _sndNxt;
        }
        else
        {
            _rstPending = false;
        }

        Stats.ResetsSent++;
        int length = WriteHeader(buffer, TouFlags.Rst | TouFlags.Ack, _phase == Phase.SynSent ? _iss : SendSeq(offset), AckField, 0, 0);
        if (_rstPending)
        {
            return length;
        }

        if (CloseReason != TouCloseReason.None && _phase != Phase.TimeWait)
        {
            Release();
        }

        return length;
    }

    private int BuildAck(Span<byte> buffer)
    {
        long ackDelayUs = _agreed.Extended ? _acks.AckDelayUs : 0;
        _acks.Sent();
        Stats.AcksSent++;
        if (_acks.TryTakePlain(out uint plainSeq, out uint plainAck))
        {
            // Seed style: seq = the acknum of the packet being acknowledged, ack = our state after it.
            return FinishPacket(buffer, TouFlags.Ack, new SequenceNumber(plainSeq), plainAck, 0);
        }

        int optionsLength = 0;
        if (_agreed.Sack && _receiveWindow.OutOfOrder.Count > 0)
        {
            optionsLength = WriteSackOptions(buffer[TouHeader.Size..]);
        }

        if (ackDelayUs > 0)
        {
            optionsLength = Extensions.AppendAckDelay(buffer[TouHeader.Size..], optionsLength, ackDelayUs);
        }

        optionsLength = AppendProbeEcho(buffer[TouHeader.Size..], optionsLength);
        var flags = TouFlags.Ack | (optionsLength > 0 ? TouFlags.Options : 0);
        return FinishPacket(buffer, flags, SendSeq(_sndNxt + (_finSent ? 1 : 0)), AckField, optionsLength);
    }

    private int BuildPing(Span<byte> buffer)
    {
        Stats.ProbesSent++;
        if (_agreed.Extended)
        {
            _acks.Sent();
            return FinishPacket(buffer, TouFlags.Ack | TouFlags.Ping, SendSeq(_sndNxt), AckField, 0);
        }

        // The seed's own probe: an empty data packet at the oldest unacknowledged byte, which it answers with an ACK.
        return FinishPacket(buffer, TouFlags.None, SendSeq(_sndUna), AckField, 0);
    }

    /// <summary>Writes the SACK option block: the most recently changed block first, then the highest others.</summary>
    private int WriteSackOptions(Span<byte> destination)
    {
        var held = _receiveWindow.OutOfOrder;
        int blocks = Math.Min(held.Count, Extensions.MaxSackBlocks);
        destination[0] = (byte)(2 + (blocks * 8));
        destination[1] = Extensions.TlvSack;
        destination[2] = (byte)(blocks * 8);
        int n = 3;
        int first = held.Count - 1;
        for (int i = 0; i < held.Count; i++)
        {
            if (held.StartAt(i) <= _acks.LastSackUpdateStart && _acks.LastSackUpdateStart < held.EndAt(i))
            {
                first = i;
            }
        }

        WriteBlock(destination, ref n, first);
        for (int i = held.Count - 1, written = 1; i >= 0 && written < blocks; i--)
        {
            if (i != first)
            {
                WriteBlock(destination, ref n, i);
                written++;
            }
        }

        return n;

        void WriteBlock(Span<byte> d, ref int at, int index)
        {
            BinaryPrimitives.WriteUInt32BigEndian(d[at..], ReceiveSeq(held.StartAt(index)).Value);
            BinaryPrimitives.WriteUInt32BigEndian(d[(at + 4)..], ReceiveSeq(held.EndAt(index)).Value);
            at += 8;
        }
    }

    /// <summary>A retransmission, new data or the FIN, as congestion control, flow control and pacing allow.</summary>
    private int BuildSegment(long nowUs, Span<byte> buffer)
    {
        // 0. A tail loss probe, when its timer fired.
        int probe = _tailProbeDue ? BuildTailLossProbe(nowUs, buffer) : 0;
        if (probe > 0)
        {
            return probe;
        }

        // 1. Retransmit the oldest segment declared lost.
        int lost = _loss.OldestLost();
        if (lost >= 0)
        {
            return BuildRetransmission(nowUs, buffer, lost);
        }

        // 2. New data within the peer's window.
        long unsent = _written - _sndNxt;
        if (unsent > 0)
        {
            return BuildNewData(nowUs, buffer, unsent);
        }

        // 3. The FIN after all data.
        // A plain (seed) peer ignores the FIN's number and ends the stream where its data ends, so it gets
        // the FIN only once all data is acknowledged.
        if (_finQueued && !_finSent && _sndNxt == _written && (_agreed.Extended || _sndUna == _written))
        {
            _finSent = true;
            _loss.OnFinSent(_sndNxt, nowUs);
            ArmRto(nowUs);
            ArmTailLossProbe(nowUs);
            Log.SendingFin(_logger, Id);
            return BuildFin(buffer, _sndNxt);
        }

        return 0;
    }

    private int BuildRetransmission(long nowUs, Span<byte> buffer, int index)
    {
        if (_loss.SegmentAt(index).Length > _sendMss)
        {
            _loss.SplitLost(index, _sendMss); // sent before the datagram size fell: re-cut to the current size
        }

        var seg = _loss.SegmentAt(index);
        if (!_loss.FastRetransmitPending && (!CongestionAllows(seg.Length) || !PacingAllows(nowUs, seg.Length)))
        {
            return 0;
        }

        _loss.OnRetransmitted(index, nowUs, AppLimited);
        Stats.Retransmissions++;
        _host?.OnRetransmission();
        Log.Retransmitting(_logger, Id, SendSeq(seg.Offset).Value, seg.Length, _loss.InRecovery);
        ArmRto(nowUs);
        return seg.Is(SegmentState.Fin) ? BuildFin(buffer, seg.Offset) : BuildData(buffer, seg.Offset, seg.Length);
    }

    private int BuildNewData(long nowUs, Span<byte> buffer, long unsent)
    {
        int length = NextNewDataLength(unsent);
        if (length <= 0)
        {
            ArmPersist(nowUs);
            return 0;
        }

        // Sender-side silly window avoidance: no small segment while a larger one could follow soon.
        if (length < _sendMss && length < unsent && _loss.BytesInFlight > 0)
        {
            return 0;
        }

        if (!CongestionAllows(length) || !PacingAllows(nowUs, length))
        {
            return 0;
        }

        long offset = TakeNewData(nowUs, length);
        ArmTailLossProbe(nowUs);
        return BuildData(buffer, offset, length, ping: _agreed.Extended && BlockedAfterSend());
    }

    /// <summary>How much new data the next segment can carry: a segment's worth at most, within the peer's window.</summary>
    private int NextNewDataLength(long unsent) => (int)Math.Min(Math.Min(unsent, _sendMss), Math.Max(0, _peerWindow.Room(_sndUna, _sndNxt)));

    /// <summary>The next <paramref name="length"/> bytes of new data leave: in flight from now, the RTO armed. Returns their offset.</summary>
    private long TakeNewData(long nowUs, int length)
    {
        long offset = _sndNxt;
        _sndNxt += length;
        _loss.OnSent(offset, length, nowUs, AppLimited);
        Stats.DataPacketsSent++;
        ArmRto(nowUs);
        return offset;
    }

    /// <summary>
    /// Data waits but the congestion window or the peer's window has no room for the next segment, and too few
    /// segments are in flight for the receiver's every-Nth-segment rule to answer soon: the sender can go on only when
    /// an ACK comes, so the segment just built asks for one at once (PING) instead of letting the receiver hold it back
    /// for segments that cannot come. (The peer's N is taken to be ours, <see cref="TouOptions.SegmentsPerAck"/>; if it
    /// is larger, its delayed-ACK timer still bounds the wait.)
    /// </summary>
    private bool BlockedAfterSend()
    {
        long unsent = _written - _sndNxt;
        if (unsent <= 0 || _loss.BytesInFlight >= (long)_options.SegmentsPerAck * _sendMss)
        {
            return false;
        }

        int next = (int)Math.Min(unsent, _sendMss);
        return _peerWindow.Room(_sndUna, _sndNxt) < next || !CongestionAllows(next);
    }

    /// <summary>
    /// Sending is limited by the application, not the network: nothing written waits and the window has room
    /// (a delivery-rate sample from such a segment understates the path).
    /// </summary>
    private bool AppLimited => _written - _sndNxt <= 0 && _loss.BytesInFlight < _congestion.CongestionWindow;

    private bool CongestionAllows(int length)
    {
        long pipe = _loss.Pipe;
        return pipe <= 0 || pipe + length <= _congestion.CongestionWindow;
    }

    /// <summary>Whether the pacer lets <paramref name="length"/> bytes leave now; if not, its timer says when.</summary>
    private bool PacingAllows(long nowUs, int length)
    {
        if (!_options.EnablePacing || !_rtt.HasSample)
        {
            return true;
        }

        double bytesPerUs = Pacer.BytesPerUs(_congestion.PacingRate, _congestion.InSlowStart, _congestion.CongestionWindow, _rtt.SmoothedRttUs);
        long readyAt = _pacer.TryTake(nowUs, length, bytesPerUs, _sendMss, _loss.BytesInFlight == 0);
        if (readyAt == 0)
        {
            _timers.Clear(TimerKind.Pacing);
            return true;
        }

        _timers[TimerKind.Pacing] = readyAt;
        return false;
    }

    private int BuildData(Span<byte> buffer, long offset, int length, bool ping = false)
    {
        _sendBuffer!.CopyTo(offset, buffer.Slice(TouHeader.Size, length));
        if (_agreed.Extended)
        {
            // Data carries the acknowledgement; a SACK report still needs its own packet.
            if (!(_agreed.Sack && _receiveWindow.OutOfOrder.Count > 0))
            {
                _acks.Sent();
            }

            return FinishPacket(buffer, ping ? TouFlags.Ack | TouFlags.Ping : TouFlags.Ack, SendSeq(offset), AckField, length);
        }

        // The seed never puts data in an ACK-flagged packet.
        return FinishPacket(buffer, TouFlags.None, SendSeq(offset), AckField, length);
    }

    private int BuildFin(Span<byte> buffer, long offset)
    {
        var flags = _agreed.Extended ? TouFlags.Fin | TouFlags.Ack : TouFlags.Fin;
        if (_agreed.Extended)
        {
            _acks.Sent();
        }

        return FinishPacket(buffer, flags, SendSeq(offset), AckField, 0);
    }

    private int FinishPacket(Span<byte> buffer, TouFlags flags, SequenceNumber seq, uint ack, int payloadLength, bool unscaledWindow = false)
    {
        return WriteHeader(buffer, flags, seq, ack, payloadLength, _receiveWindow.Advertise(unscaledWindow));
    }

    private int WriteHeader(Span<byte> buffer, TouFlags flags, SequenceNumber seq, uint ack, int payloadLength, ushort window)
    {
        var header = new TouHeader
        {
            SourcePort = _host?.LocalPort ?? 0,
            DestinationPort = RemotePort,
            SequenceNumber = seq.Value,
            AcknowledgementNumber = ack,
            Flags = flags,
            Window = window,
            PayloadLength = (ushort)payloadLength,
            Mss = (uint)AgreedOptions.LocalMaxPayload(_options),
        };
        header.Write(buffer);
        return TouHeader.Size + payloadLength;
    }

    private ushort RemotePort => RemoteAddress.Family is System.Net.Sockets.AddressFamily.InterNetwork or System.Net.Sockets.AddressFamily.InterNetworkV6
        ? (ushort)((RemoteAddress[2] << 8) | RemoteAddress[3])
        : (ushort)0;

    private void ArmRto(long nowUs)
    {
        _timers.ArmIfIdle(TimerKind.Retransmission, nowUs + _rtt.RtoUs);
    }

    private void ArmPersist(long nowUs)
    {
        if (_timers[TimerKind.Persist] == TouTime.Never && _loss.BytesInFlight == 0 && !_loss.HasLostSegments)
        {
            _timers[TimerKind.Persist] = nowUs + _peerWindow.ProbeInterval(_rtt.RtoUs, TouTime.FromTimeSpan(_options.MaxRto));
        }
    }

    /// <summary>Runs every timer that is due. The endpoint calls it when <see cref="NextDeadline"/> has passed.</summary>
    internal void HandleTimeout(long nowUs)
    {
        if (_phase == Phase.Released)
        {
            return;
        }

        if (_phase == Phase.TimeWait)
        {
            if (_timers.IsDue(TimerKind.TimeWait, nowUs))
            {
                Release();
            }

            return;
        }

        if (_phase is Phase.SynSent or Phase.SynReceived)
        {
            HandleHandshakeTimeout(nowUs);
            return;
        }

        if (CloseReason != TouCloseReason.None || EndedByIdleOrLinger(nowUs))
        {
            return;
        }

        if (_timers.IsDue(TimerKind.DelayedAck, nowUs))
        {
            _acks.OnDelayedAckDue(nowUs);
        }

        if (_timers.IsDue(TimerKind.LossDetection, nowUs))
        {
            ApplyLosses(nowUs, _loss.DetectLosses(nowUs, _sndUna, _sndNxt));
        }

        if (_timers.IsDue(TimerKind.PathMtu, nowUs))
        {
            OnPathMtuTimer(nowUs);
        }

        if (_timers.IsDue(TimerKind.PathValidation, nowUs))
        {
            OnPathValidationTimer();
        }

        if (_timers.IsDue(TimerKind.TailLossProbe, nowUs))
        {
            OnTailLossProbeTimer();
        }

        if (_timers.IsDue(TimerKind.Retransmission, nowUs))
        {
            OnRetransmissionTimeout(nowUs);
            if (CloseReason != TouCloseReason.None)
            {
                return;
            }
        }

        RunTransmitTimers(nowUs);
        Notify();
    }

    /// <summary>The idle timer ends the connection; the linger timer gives up on one the application closed. True when either did.</summary>
    private bool EndedByIdleOrLinger(long nowUs)
    {
        if (_timers.IsDue(TimerKind.Idle, nowUs))
        {
            EndConnection(TouCloseReason.IdleTimeout, linger: false);
            return true;
        }

        if (_timers.IsDue(TimerKind.Linger, nowUs))
        {
            // The application closed and the peer has acknowledged nothing new for LingerTimeout: give up.
            Log.LingerExpired(_logger, Id, (long)_options.LingerTimeout.TotalMilliseconds);
            _rstPending = true;
            EndConnection(TouCloseReason.LingerTimeout, linger: false);
            Notify();
            return true;
        }

        return false;
    }

    /// <summary>The timers that make something leave: a zero-window probe, a keepalive, the pacer's next segment.</summary>
    private void RunTransmitTimers(long nowUs)
    {
        if (_timers.IsDue(TimerKind.Persist, nowUs))
        {
            _timers.Clear(TimerKind.Persist);
            if (_written > _sndNxt && _peerWindow.Room(_sndUna, _sndNxt) <= 0)
            {
                _pingPending = true;
                _peerWindow.ProbeSent();
                Stats.ZeroWindowProbes++;
            }
        }

        if (_timers.IsDue(TimerKind.KeepAlive, nowUs))
        {
            _timers[TimerKind.KeepAlive] = nowUs + TouTime.FromTimeSpan(_options.KeepAliveInterval);
            if (!HasOutstanding)
            {
                _pingPending = true;
            }
        }

        if (_timers.IsDue(TimerKind.Pacing, nowUs))
        {
            _timers.Clear(TimerKind.Pacing);
        }
    }

    private void OnRetransmissionTimeout(long nowUs)
    {
        if (_loss.SegmentCount == 0 || (!HasOutstanding))
        {
            _timers.Clear(TimerKind.Retransmission);
            return;
        }

        _consecutiveRtos++;
        Stats.RetransmissionTimeouts++;
        if (_consecutiveRtos > _options.MaxRetransmissions)
        {
            Log.GivingUp(_logger, Id, _consecutiveRtos - 1);
            _rstPending = true;
            EndConnection(TouCloseReason.RetransmissionTimeout, linger: false);
            return;
        }

        _rtt.OnTimeout();
        long lost = _loss.OnRetransmissionTimeout(_sndUna, _sndNxt);
        Stats.SegmentsLost += lost;
        _trace?.PacketsLost(nowUs, lost, -1, "timeout");
        CheckBlackHole(nowUs); // before the window falls to one segment: of the size that still gets through
        _congestion.OnRetransmissionTimeout(nowUs);
        _pacer.Restart(_sendMss);
        _timers.Clear(TimerKind.Retransmission); // re-armed by the retransmission
        Log.RetransmissionTimeout(_logger, Id, _consecutiveRtos, _rtt.RtoUs);
        _trace?.MetricsUpdated(nowUs, -1);
    }
}
