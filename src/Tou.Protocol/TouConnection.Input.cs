using System.Buffers.Binary;
using Tou.Protocol.Buffers;
using Tou.Protocol.Congestion;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

public sealed partial class TouConnection
{
    /// <summary>Client side: start the handshake.</summary>
    internal void StartConnect(long nowUs)
    {
        _sendSeqBase = _iss + 1;
        _timers[TimerKind.Retransmission] = nowUs + _rtt.RtoUs;
        Log.Connecting(_logger, Id);
    }

    /// <summary>Server side: a SYN created this connection.</summary>
    /// <param name="keys">The integrity keys the endpoint derived for this connection, used if integrity is agreed.</param>
    internal void AcceptSyn(long nowUs, in TouHeader header, ReadOnlySpan<byte> payload, ExtensionSet offer, int synLength, in IntegrityKeys keys)
    {
        _unvalidatedBytesIn = synLength;
        _irs = new SequenceNumber(header.SequenceNumber);
        _receiveSeqBase = _irs + 1;
        _sendSeqBase = _iss; // the seed's SYN+ACK consumes no sequence number
        Apply(AgreedOptions.ForServer(_options, offer, keys));
        _peerWindow.Start(header.Window, updatesFromStart: false);
        SetMss(header.Mss);
        _lastReceiveUs = nowUs;
        _timers[TimerKind.Retransmission] = nowUs + _rtt.RtoUs;
        _synAckPending = true;
        _ = payload;
    }

    /// <summary>
    /// Server side, stateless handshake: the client's ACK (or first data) returned a valid SYN cookie, which
    /// proves its address; the connection starts established with what the cookie says was agreed.
    /// </summary>
    /// <param name="cookie">What was agreed, with the client's window shift (-1 for none).</param>
    internal void AcceptCookie(long nowUs, in TouHeader header, ReadOnlySpan<byte> payload, in ExtensionSet cookie, uint serverIsn)
    {
        FromCookie = true;
        _irs = new SequenceNumber(header.SequenceNumber) - 1;
        _receiveSeqBase = _irs + 1;
        _iss = new SequenceNumber(serverIsn);
        _sendSeqBase = _iss;
        Apply(AgreedOptions.FromCookie(_options, cookie));
        SetMss(header.Mss);
        _peerWindow.Start((long)header.Window << _sendShift, updatesFromStart: true);
        _lastReceiveUs = nowUs;
        _timers.Clear(TimerKind.Handshake);
        BecomeEstablished(nowUs);
        if (header.PayloadLength > 0 || (header.Flags & TouFlags.Fin) != 0)
        {
            HandleSynchronized(nowUs, header, payload, authenticated: true);
        }
    }

    /// <summary>Created from a SYN cookie (so it never counted as a pending handshake).</summary>
    internal bool FromCookie { get; private set; }

    /// <summary>The one place the handshake's outcome enters the connection.</summary>
    private void Apply(in AgreedOptions agreement)
    {
        _agreed = agreement.Agreed;
        _sendShift = agreement.SendShift;
        _receiveShift = agreement.ReceiveShift;
        if (_agreed.Integrity)
        {
            _sendKey = _agreed.Keys.ForSending(_isClient);
            _receiveKey = _agreed.Keys.ForReceiving(_isClient);
        }
    }

    private void SetMss(uint peerMss)
    {
        _sendMss = AgreedOptions.SendMss(_options, _agreed.Extended, peerMss);
        _congestion = CongestionControllerFactory.Create(_options.CongestionControl, _sendMss);
    }

    /// <summary>Handles one datagram from this connection's peer.</summary>
    internal void HandleDatagram(long nowUs, ReadOnlySpan<byte> datagram)
    {
        // Released, or ended and only waiting to send its RST: nothing the peer says matters any more.
        if (_phase == Phase.Released || (CloseReason != TouCloseReason.None && _phase != Phase.TimeWait))
        {
            return;
        }

        if (!TouHeader.TryRead(datagram, out var header))
        {
            Drop(DropReason.Malformed);
            return;
        }

        var flags = header.Flags;
        if ((flags & ~TouFlags.KnownMask) != 0 || (!_agreed.Extended && _phase != Phase.SynSent && (flags & ~TouFlags.SeedMask) != 0))
        {
            Drop(DropReason.Malformed);
            return;
        }

        // Every packet of an integrity connection carries a trailer: CRC32C on the handshake's SYNs, the keyed
        // tag on all others. Only a bare RST (header only: what a host that lost the connection sends) may go
        // without one, and then it must sit exactly at the sequence number we expect (RFC 5961: 2^-32 odds for a
        // blind guess). A longer packet with RST set and a bad trailer is damage (e.g. a flag flipped in the
        // next in-order segment, whose number is exactly the expected one), never an RST.
        bool authenticated = false;
        if (_agreed.Integrity)
        {
            authenticated = (flags & TouFlags.Syn) != 0
                ? Extensions.VerifyCrc(datagram, header.PayloadLength)
                : Extensions.VerifyTag(datagram, header.PayloadLength, _receiveKey);
            bool bareRst = (flags & TouFlags.Rst) != 0 && datagram.Length == TouHeader.Size && header.PayloadLength == 0;
            if (!authenticated && !bareRst)
            {
                Drop(DropReason.Integrity);
                return;
            }
        }

        Stats.PacketsReceived++;
        Stats.BytesReceived += datagram.Length;
        Log.PacketReceived(_logger, Id, header);
        var payload = datagram.Slice(TouHeader.Size, header.PayloadLength);

        switch (_phase)
        {
            case Phase.SynSent:
                HandleSynSent(nowUs, header, payload, datagram);
                return;
            case Phase.SynReceived:
                HandleSynReceived(nowUs, header, payload);
                return;
            default:
                HandleSynchronized(nowUs, header, payload, authenticated);
                return;
        }
    }

    private void HandleSynSent(long nowUs, in TouHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> datagram)
    {
        var flags = header.Flags;
        bool acksSyn = header.AcknowledgementNumber == (_iss + 1).Value;
        if ((flags & TouFlags.Rst) != 0)
        {
            // Only an RST that answers our SYN can refuse it (otherwise anyone could cancel a connect).
            if ((flags & TouFlags.Ack) != 0 && acksSyn)
            {
                EndConnection(TouCloseReason.Refused, linger: false);
            }
            else
            {
                Drop(DropReason.OutOfWindow);
            }

            return;
        }

        if ((flags & (TouFlags.Syn | TouFlags.Ack)) != (TouFlags.Syn | TouFlags.Ack) || !acksSyn)
        {
            if ((flags & TouFlags.Ack) != 0 && !acksSyn)
            {
                // The other side holds an old connection from this address (RFC 793 half-open): reset it
                // with its own acknowledgement number, so our retransmitted SYN finds a clean slate.
                _halfOpenResetSeq = header.AcknowledgementNumber;
                Notify();
            }

            Drop(DropReason.Unexpected);
            return;
        }

        var offer = Extensions.ReadOffer(payload);
        // A trailer that is present must verify, and a server that accepts the checksum must send one:
        // otherwise a damaged SYN+ACK could leave the two sides disagreeing about it.
        bool hasTrailer = datagram.Length > TouHeader.Size + header.PayloadLength;
        if ((hasTrailer && !Extensions.VerifyCrc(datagram, header.PayloadLength)) || (offer.Integrity && !hasTrailer))
        {
            Drop(DropReason.Integrity);
            return;
        }

        Apply(AgreedOptions.ForClient(_options, offer));

        _irs = new SequenceNumber(header.SequenceNumber);
        _receiveSeqBase = _irs; // the server's first data byte is its ISN (seed numbering)
        _peerWindow.Start(header.Window, updatesFromStart: true);
        SetMss(header.Mss);
        if (_rtoRetransmits == 0)
        {
            _rtt.AddSample(nowUs - _synSentUs);
        }

        _lastReceiveUs = nowUs;
        _timers.Clear(TimerKind.Retransmission);
        _handshakeAckPending = true;
        BecomeEstablished(nowUs);
    }

    private void HandleSynReceived(long nowUs, in TouHeader header, ReadOnlySpan<byte> payload)
    {
        var flags = header.Flags;
        if ((flags & TouFlags.Rst) != 0)
        {
            if (header.SequenceNumber == _receiveSeqBase.Value)
            {
                EndConnection(TouCloseReason.ResetByPeer, linger: false);
            }
            else
            {
                Drop(DropReason.OutOfWindow);
            }

            return;
        }

        if ((flags & TouFlags.Syn) != 0)
        {
            if (header.SequenceNumber == _irs.Value)
            {
                _unvalidatedBytesIn += TouHeader.Size + header.PayloadLength;
                _synAckPending = true; // our SYN+ACK was lost; say it again
                Stats.Retransmissions++;
                Notify();
            }
            else
            {
                Drop(DropReason.Unexpected);
            }

            return;
        }

        // The handshake's ACK (ack = our ISN, seed numbering), or data that overtook it.
        if (header.AcknowledgementNumber != _sendSeqBase.Value || header.SequenceNumber != _receiveSeqBase.Value)
        {
            Drop(DropReason.Unexpected);
            return;
        }

        _peerWindow.Start((long)header.Window << _sendShift, updatesFromStart: true);
        if (_rtoRetransmits == 0 && _synSentUs > 0)
        {
            _rtt.AddSample(nowUs - _synSentUs);
        }

        _timers.Clear(TimerKind.Retransmission);
        _lastReceiveUs = nowUs;
        BecomeEstablished(nowUs);
        if (header.PayloadLength > 0 || (flags & TouFlags.Fin) != 0)
        {
            HandleSynchronized(nowUs, header, payload, authenticated: true);
        }
    }

    private void BecomeEstablished(long nowUs)
    {
        _phase = Phase.Established;
        WasEstablished = true;
        _timers.Clear(TimerKind.Handshake);
        ArmIdle();
        ArmLinger();
        _rtoRetransmits = 0;
        _advertisedRightEdge = 0;
        ArmKeepAlive(nowUs);
        Log.ConnectionEstablished(_logger, Id, _agreed.Extended, _agreed.Sack, _agreed.Integrity, _agreed.WindowShift, _sendMss);
        _host?.OnEstablished();
        Raise(TouConnectionEvents.Connected | TouConnectionEvents.Writable);
        Notify();
    }

    /// <param name="authenticated">The packet's integrity tag verified (so it comes from the peer).</param>
    private void HandleSynchronized(long nowUs, in TouHeader header, ReadOnlySpan<byte> payload, bool authenticated)
    {
        var flags = header.Flags;
        var seq = new SequenceNumber(header.SequenceNumber);
        long seqOffset = ReceiveOffset(seq);
        long windowEnd = _rcvRead + ReceiveCapacity;

        if ((flags & TouFlags.Rst) != 0)
        {
            HandleRst(seqOffset, windowEnd, authenticated);
            return;
        }

        if ((flags & TouFlags.Syn) != 0)
        {
            // A retransmitted SYN+ACK means our handshake ACK was lost; anything else is answered with a challenge ACK (RFC 5961).
            if (_isClient && seq == _irs && (flags & TouFlags.Ack) != 0)
            {
                _handshakeAckPending = true;
            }
            else
            {
                _acks.RequestChallenge();
                Drop(DropReason.Unexpected);
            }

            Notify();
            return;
        }

        if (_phase == Phase.TimeWait)
        {
            // Only a retransmitted FIN matters now: acknowledge it again.
            if ((flags & TouFlags.Fin) != 0)
            {
                if (!_agreed.Extended)
                {
                    _acks.QueuePlainFinAck(header.AcknowledgementNumber, header.SequenceNumber + 1);
                }
                else
                {
                    _acks.RequestImmediate();
                }

                Notify();
            }

            return;
        }

        if (_agreed.Extended && (flags & TouFlags.Ack) == 0)
        {
            // Extended peers put ACK on every packet after the SYN; one without it is an injection attempt.
            Drop(DropReason.Unexpected);
            return;
        }

        ReadOnlySpan<byte> data = payload;
        ReadOnlySpan<byte> options = default;
        if ((flags & TouFlags.Options) != 0 && !Extensions.TrySplitOptions(payload, out options, out data))
        {
            Drop(DropReason.Malformed);
            return;
        }

        bool plainAck = !_agreed.Extended && (flags & TouFlags.Ack) != 0;
        if (plainAck)
        {
            data = default; // the seed treats any ACK-flagged packet as a pure ACK
        }

        // A segment must overlap the window (or be an empty one at its edge) to be acceptable.
        long segEnd = seqOffset + data.Length;
        bool acceptable = data.Length == 0
            ? seqOffset >= _rcvNxt - (1L << 30) && seqOffset <= windowEnd
            : segEnd > _rcvNxt - (1L << 30) && seqOffset < windowEnd;
        if (!acceptable && _agreed.Extended)
        {
            _acks.RequestImmediate();
            Drop(DropReason.OutOfWindow);
            Notify();
            return;
        }

        _lastReceiveUs = nowUs;
        ArmIdle();
        ArmKeepAlive(nowUs);

        if ((flags & TouFlags.Ack) != 0)
        {
            if (!HandleAck(nowUs, header, seqOffset, data.Length, options))
            {
                Notify();
                return;
            }
        }

        if (!data.IsEmpty)
        {
            HandleData(nowUs, seqOffset, data);
            if (CloseReason != TouCloseReason.None)
            {
                Notify();
                return;
            }
        }

        if (!_agreed.Extended && (flags & (TouFlags.Ack | TouFlags.Fin)) == 0)
        {
            // The seed answers every data packet (duplicates and empty probes too) with its own ACK, which
            // carries the state right after that packet: identical ACKs would read as duplicate ACKs.
            _acks.QueuePlain(header.AcknowledgementNumber, AckField);
        }
        else if ((flags & TouFlags.Ping) != 0 || (_agreed.Extended && seqOffset < _rcvNxt && (flags & TouFlags.Fin) == 0 && (flags & TouFlags.Ack) == 0))
        {
            _acks.RequestImmediate();
        }

        if ((flags & TouFlags.Ping) != 0)
        {
            _acks.RequestImmediate();
        }

        if ((flags & TouFlags.Fin) != 0)
        {
            HandleFin(header, seqOffset + data.Length, windowEnd);
        }

        Notify();
    }

    private long ReceiveCapacity => _options.ReceiveBufferSize;

    /// <summary>The end of the highest data received, in order or not.</summary>
    private long ReceivedEnd => _outOfOrder.Count > 0 ? Math.Max(_rcvNxt, _outOfOrder.HighestEnd) : _rcvNxt;

    private void HandleRst(long seqOffset, long windowEnd, bool authenticated)
    {
        // The exact edge is our acknowledgement number, which counts the peer's FIN once consumed. A tagged RST
        // comes from the peer itself, whose numbering may be ahead of ours (data or its FIN still in flight).
        long edge = _rcvNxt + (_peerFinConsumed ? 1 : 0);
        if (_agreed.Extended && seqOffset != edge && !authenticated)
        {
            // RFC 5961: an RST that is in the window but not exactly at its edge earns a challenge ACK.
            if (seqOffset >= _rcvNxt && seqOffset < windowEnd)
            {
                _acks.RequestChallenge();
                Notify();
            }

            Drop(DropReason.OutOfWindow);
            return;
        }

        if (!_agreed.Extended && (seqOffset < _rcvNxt || seqOffset > windowEnd))
        {
            Drop(DropReason.OutOfWindow);
            return;
        }

        if (_phase == Phase.TimeWait)
        {
            Release();
            return;
        }

        // Both sides closed and all our data arrived; only our FIN's ACK was lost and the peer has
        // already forgotten the connection (TCP's LAST-ACK): that is a graceful end, not a reset.
        bool onlyFinUnacknowledged = _peerFinConsumed && _finSent && _sndUna == _written;
        EndConnection(onlyFinUnacknowledged ? TouCloseReason.Graceful : TouCloseReason.ResetByPeer, linger: false);
    }

    /// <summary>Processes the acknowledgement part of a packet. Returns false when the packet must be dropped.</summary>
    private bool HandleAck(long nowUs, in TouHeader header, long seqOffset, int dataLength, ReadOnlySpan<byte> options)
    {
        long ackOffset = SendOffset(new SequenceNumber(header.AcknowledgementNumber));
        if (ackOffset > SendLimit)
        {
            // Acknowledges what we never sent: off-path guess or corruption.
            if (_agreed.Extended)
            {
                _acks.RequestChallenge();
            }

            Drop(DropReason.OutOfWindow);
            return false;
        }

        // RFC 5961 §5: an ACK older than the largest window the peer ever offered cannot be a late one of ours.
        if (ackOffset < _sndUna - Math.Max(_peerWindow.Largest, ushort.MaxValue))
        {
            if (_agreed.Extended)
            {
                _acks.RequestChallenge();
            }

            Drop(DropReason.OutOfWindow);
            return false;
        }

        var (windowChanged, opened) = _peerWindow.Update((long)header.Window << _sendShift, ackOffset, seqOffset);
        if (opened && _timers[TimerKind.Persist] != TouTime.Never && _peerWindow.Room(_sndUna, _sndNxt) > 0)
        {
            _timers.Clear(TimerKind.Persist);
            _peerWindow.Reopened();
        }

        long deliveredBytes = 0;
        long newestDeliveredSentUs = long.MinValue;
        long newestDeliveredEnd = long.MinValue;
        long rttSampleUs = -1;

        if (ackOffset > _sndUna)
        {
            NoteProgress(nowUs);
            deliveredBytes += AcknowledgeUpTo(ackOffset, nowUs, ref newestDeliveredSentUs, ref newestDeliveredEnd, ref rttSampleUs);
            _duplicateAcks = 0;
            _duplicateAckBytes = 0;
            _consecutiveRtos = 0;
            _rtt.ResetBackoff(); // progress: the path works, even if Karn's rule gave no new sample
        }
        else if (ackOffset == _sndUna && dataLength == 0 && !windowChanged && _segments.Count > 0 && options.IsEmpty
                 && (header.Flags & (TouFlags.Fin | TouFlags.Ping)) == 0)
        {
            // Without SACK each duplicate ACK says one segment left the network (RFC 5681 window inflation).
            _duplicateAcks++;
            _duplicateAckBytes = Math.Min(_duplicateAckBytes + _sendMss, _bytesInFlight);
        }

        if (_agreed.Sack && !options.IsEmpty)
        {
            long sacked = ApplySack(Extensions.FindSackBlocks(options), nowUs, ref newestDeliveredSentUs, ref newestDeliveredEnd, ref rttSampleUs);
            if (sacked > 0)
            {
                NoteProgress(nowUs); // new data reached the peer, though not yet in order
            }

            deliveredBytes += sacked;
        }

        if (rttSampleUs >= 0)
        {
            _rtt.AddSample(rttSampleUs);
            Stats.RttSamples++;
            _host?.OnRttSample(rttSampleUs);
        }

        if (newestDeliveredSentUs > _rackSentUs || (newestDeliveredSentUs == _rackSentUs && newestDeliveredEnd > _rackEnd))
        {
            _rackSentUs = newestDeliveredSentUs;
            _rackEnd = newestDeliveredEnd;
            _rackRttUs = nowUs - newestDeliveredSentUs;
        }

        if (_inRecovery && _sndUna >= _recoveryEnd)
        {
            _inRecovery = false;
        }

        DetectLosses(nowUs, ackOffset);

        double deliveryRate = deliveredBytes > 0 ? TakeRateSample() : 0;
        if (deliveredBytes > 0 && (!_inRecovery || _congestion.WantsAcksInRecovery))
        {
            bool windowLimited = _bytesInFlight + deliveredBytes + (2L * _sendMss) >= _congestion.CongestionWindow;
            _congestion.OnAcked(nowUs, deliveredBytes, windowLimited, new AckSample(Math.Max(rttSampleUs, 0), _rtt.SmoothedRttUs, _rtt.MinRttUs)
            {
                DeliveryRate = deliveryRate,
                AppLimited = _sampleAppLimited,
                PriorDelivered = _sampleDeliveredAtSend,
                Delivered = _delivered,
                BytesInFlight = _bytesInFlight,
            });
        }

        // Restart the retransmission timer on progress (RFC 6298 5.3); stop it when nothing is outstanding.
        if (deliveredBytes > 0)
        {
            _timers[TimerKind.Retransmission] = HasOutstanding ? nowUs + _rtt.RtoUs : TouTime.Never;
        }

        if (_finSent && !_finAcked && ackOffset >= _sndNxt + 1)
        {
            _finAcked = true;
            NoteProgress(nowUs);
            Log.FinAcknowledged(_logger, Id);
            MaybeFinishClose();
        }

        return true;
    }

    /// <summary>Something sent is neither acknowledged nor SACKed (the FIN counts though it has no bytes).</summary>
    private bool HasOutstanding => _bytesInFlight > 0 || HasLostSegments || (_finSent && !_finAcked);

    internal bool WasEstablished { get; private set; }

    private bool HasLostSegments { get; set; }

    private long AcknowledgeUpTo(long ackOffset, long nowUs, ref long newestDeliveredSentUs, ref long newestDeliveredEnd, ref long rttSampleUs)
    {
        long delivered = 0;
        while (_segments.Count > 0)
        {
            ref var seg = ref _segments.First;
            if (seg.End > ackOffset)
            {
                if (seg.Offset < ackOffset && !seg.Is(SegmentState.Fin))
                {
                    // Partly acknowledged: keep the rest.
                    int done = (int)(ackOffset - seg.Offset);
                    if (seg.Is(SegmentState.InFlight))
                    {
                        _bytesInFlight -= done;
                        delivered += done;
                    }

                    seg.Offset += done;
                    seg.Length -= done;
                }

                break;
            }

            if (!seg.Is(SegmentState.Sacked))
            {
                delivered += seg.Length;
                CheckSpurious(seg, nowUs);
                OnDelivered(seg, nowUs);
                NoteDelivered(seg, nowUs, ref newestDeliveredSentUs, ref newestDeliveredEnd, ref rttSampleUs);
            }

            if (seg.Is(SegmentState.InFlight))
            {
                _bytesInFlight -= seg.Length;
            }

            _segments.RemoveFirst();
        }

        long dataAcked = Math.Min(ackOffset, _written) - _sndUna;
        _sndUna = Math.Min(ackOffset, _sndNxt);
        _sendBuffer?.DiscardTo(_sndUna);
        Stats.BytesAcknowledged += Math.Max(0, dataAcked);
        RecountLost();
        Raise(TouConnectionEvents.Writable | (_sndUna == _written ? TouConnectionEvents.SendAcknowledged : 0));
        return delivered;
    }

    /// <summary>
    /// A retransmission acknowledged sooner than any real round trip means the original arrived: the loss
    /// was reordering. Widen the reordering window (RFC 8985), stop trusting the three-SACK rule, and undo
    /// the window reduction of this recovery episode.
    /// </summary>
    private void CheckSpurious(in SentSegment seg, long nowUs)
    {
        if (!seg.Is(SegmentState.Retransmitted) || _rtt.MinRttUs == long.MaxValue || nowUs - seg.SentUs >= _rtt.MinRttUs * 3 / 4)
        {
            return;
        }

        Stats.SpuriousRetransmissions++;
        _reorderingSeen = true;
        _reorderWindowMultiplier = Math.Min(_reorderWindowMultiplier + 1, 16);
        if (_inRecovery && !_recoveryUndone && !_recoveryByTimeout)
        {
            _recoveryUndone = true;
            _congestion.UndoCongestionEvent();
        }
    }

    /// <summary>Counts a delivered segment and keeps the newest-sent one as this ACK's rate sample.</summary>
    private void OnDelivered(in SentSegment seg, long nowUs)
    {
        _delivered += seg.Length;
        _deliveredTimeUs = nowUs;
        if (!_rateSampleValid || seg.DeliveredAtSend > _sampleDeliveredAtSend)
        {
            _rateSampleValid = true;
            _sampleDeliveredAtSend = seg.DeliveredAtSend;
            _sampleDeliveredTimeAtSend = seg.DeliveredTimeAtSend;
            _sampleFirstSentTimeAtSend = seg.FirstSentTimeAtSend;
            _sampleSentUs = seg.SentUs;
            _sampleAppLimited = seg.Is(SegmentState.AppLimited);
        }
    }

    /// <summary>The delivery rate (bytes/s) over the sampled segment's flight; 0 when there is no usable sample.</summary>
    private double TakeRateSample()
    {
        if (!_rateSampleValid)
        {
            return 0;
        }

        _rateSampleValid = false;
        _firstSentTimeUs = _sampleSentUs;
        long sendElapsed = _sampleSentUs - _sampleFirstSentTimeAtSend;
        long ackElapsed = _deliveredTimeUs - _sampleDeliveredTimeAtSend;
        long interval = Math.Max(sendElapsed, ackElapsed);
        long delivered = _delivered - _sampleDeliveredAtSend;
        if (interval <= 0 || delivered <= 0 || (_rtt.MinRttUs != long.MaxValue && interval < _rtt.MinRttUs))
        {
            return 0; // too short to mean anything (ACK compression)
        }

        return delivered * 1e6 / interval;
    }

    private static void NoteDelivered(in SentSegment seg, long nowUs, ref long newestDeliveredSentUs, ref long newestDeliveredEnd, ref long rttSampleUs)
    {
        // RACK orders transmissions by (send time, end offset): a flight leaves within one microsecond.
        if (seg.SentUs > newestDeliveredSentUs || (seg.SentUs == newestDeliveredSentUs && seg.End > newestDeliveredEnd))
        {
            newestDeliveredSentUs = seg.SentUs;
            newestDeliveredEnd = seg.End;
            if (!seg.Is(SegmentState.Retransmitted))
            {
                rttSampleUs = nowUs - seg.SentUs; // Karn: only segments sent once give samples
            }
        }
    }

    private long ApplySack(ReadOnlySpan<byte> blocks, long nowUs, ref long newestDeliveredSentUs, ref long newestDeliveredEnd, ref long rttSampleUs)
    {
        long delivered = 0;
        for (int b = 0; b + 8 <= blocks.Length; b += 8)
        {
            long left = SendOffset(new SequenceNumber(BinaryPrimitives.ReadUInt32BigEndian(blocks[b..])));
            long right = SendOffset(new SequenceNumber(BinaryPrimitives.ReadUInt32BigEndian(blocks[(b + 4)..])));
            if (left >= right || left < _sndUna || right > _sndNxt)
            {
                Stats.InvalidSackBlocks++;
                continue;
            }

            for (int i = 0; i < _segments.Count; i++)
            {
                ref var seg = ref _segments[i];
                if (seg.Offset >= right)
                {
                    break;
                }

                if (seg.Offset >= left && seg.Offset + seg.Length <= right && !seg.Is(SegmentState.Sacked) && !seg.Is(SegmentState.Fin))
                {
                    if (seg.Is(SegmentState.InFlight))
                    {
                        _bytesInFlight -= seg.Length;
                    }

                    seg.State = (seg.State | SegmentState.Sacked) & ~(SegmentState.InFlight | SegmentState.Lost);
                    delivered += seg.Length;
                    CheckSpurious(seg, nowUs);
                    OnDelivered(seg, nowUs);
                    NoteDelivered(seg, nowUs, ref newestDeliveredSentUs, ref newestDeliveredEnd, ref rttSampleUs);
                }
            }
        }

        if (delivered > 0)
        {
            RecountLost();
        }

        return delivered;
    }

    /// <summary>
    /// Marks segments lost: with SACK by RACK (sent before something delivered and older than RTT plus a
    /// reordering window) or by three segments SACKed above them; without SACK after three duplicate ACKs and,
    /// in recovery, at each partial ACK (NewReno).
    /// </summary>
    private void DetectLosses(long nowUs, long ackOffset)
    {
        _timers.Clear(TimerKind.LossDetection);
        if (_segments.Count == 0)
        {
            return;
        }

        long lostBytesBefore = _bytesInFlight;
        bool anyLost = false;
        if (_agreed.Sack)
        {
            long reorderWindow = _rtt.MinRttUs == long.MaxValue ? 1_000
                : Math.Clamp(_rtt.MinRttUs / 4 * _reorderWindowMultiplier, 1_000, Math.Max(_rtt.SmoothedRttUs, 1_000));
            int sackedAbove = 0;
            for (int i = _segments.Count - 1; i >= 0; i--)
            {
                ref var seg = ref _segments[i];
                if (seg.Is(SegmentState.Sacked))
                {
                    sackedAbove++;
                    continue;
                }

                if (!seg.Is(SegmentState.InFlight) || seg.SentUs > _rackSentUs || (seg.SentUs == _rackSentUs && seg.End > _rackEnd))
                {
                    continue;
                }

                long lossAt = seg.SentUs + _rackRttUs + reorderWindow;
                if ((sackedAbove >= 3 && !_reorderingSeen) || nowUs >= lossAt)
                {
                    MarkLost(ref seg);
                    anyLost = true;
                }
                else
                {
                    _timers[TimerKind.LossDetection] = Math.Min(_timers[TimerKind.LossDetection], lossAt);
                }
            }
        }
        else
        {
            ref var first = ref _segments.First;
            bool partialAck = _inRecovery && ackOffset > _recoveryAckMark && ackOffset < _recoveryEnd;
            if ((_duplicateAcks >= 3 && !_inRecovery) || partialAck)
            {
                if (first.Is(SegmentState.InFlight))
                {
                    MarkLost(ref first);
                    anyLost = true;
                    _fastRetransmitPending = true; // RFC 5681: retransmit now, whatever the window says
                }

                _duplicateAcks = 0;
            }

            _recoveryAckMark = Math.Max(_recoveryAckMark, ackOffset);
        }

        if (anyLost)
        {
            HasLostSegments = true;
            if (!_inRecovery)
            {
                _inRecovery = true;
                _recoveryUndone = false;
                _recoveryByTimeout = false;
                _recoveryEnd = _sndNxt;
                _recoveryAckMark = ackOffset;
                _congestion.OnCongestionEvent(nowUs, lostBytesBefore);
                Stats.CongestionEvents++;
            }

            Notify();
        }
    }

    private long _recoveryAckMark;
    private long _rackEnd = long.MinValue;
    private bool _reorderingSeen;
    private int _reorderWindowMultiplier = 1;
    private bool _recoveryUndone;
    private bool _recoveryByTimeout;
    private long _duplicateAckBytes;
    private long _delivered;
    private long _deliveredTimeUs;
    private long _firstSentTimeUs;
    private bool _rateSampleValid;
    private long _sampleDeliveredAtSend;
    private long _sampleDeliveredTimeAtSend;
    private long _sampleFirstSentTimeAtSend;
    private long _sampleSentUs;
    private bool _sampleAppLimited;
    private bool _fastRetransmitPending;

    private void MarkLost(ref SentSegment seg)
    {
        if (seg.Is(SegmentState.InFlight))
        {
            _bytesInFlight -= seg.Length;
        }

        seg.State = (seg.State | SegmentState.Lost) & ~SegmentState.InFlight;
        Stats.SegmentsLost++;
    }

    private void RecountLost()
    {
        bool any = false;
        for (int i = 0; i < _segments.Count && !any; i++)
        {
            any = _segments[i].Is(SegmentState.Lost);
        }

        HasLostSegments = any;
    }

    private void HandleData(long nowUs, long offset, ReadOnlySpan<byte> data)
    {
        long end = offset + data.Length;
        long windowEnd = _rcvRead + ReceiveCapacity;
        if (_peerFinOffset >= 0)
        {
            windowEnd = Math.Min(windowEnd, _peerFinOffset);
        }

        // Trim what was already received and what lies beyond the buffer.
        if (offset < _rcvNxt)
        {
            int skip = (int)Math.Min(_rcvNxt - offset, data.Length);
            data = data[skip..];
            offset += skip;
            Stats.DuplicateBytesReceived += skip;
        }

        if (end > windowEnd)
        {
            int cut = (int)Math.Min(end - windowEnd, data.Length);
            data = data[..^cut];
            Stats.BytesBeyondWindow += cut;
            end = offset + data.Length;
        }

        if (data.IsEmpty)
        {
            _acks.RequestImmediate(); // duplicate or beyond the window: tell the sender where we are
            return;
        }

        if (_appClosed)
        {
            ResetUnreadData(); // new data for an application that closed: nobody will ever read it
            return;
        }

        if (offset == _rcvNxt)
        {
            _receiveBuffer ??= new StreamBuffer(_options.ReceiveBufferSize, _chunkPool);
            _receiveBuffer.Write(offset, data);
            _rcvNxt = end;
            bool filledHole = _outOfOrder.Count > 0;
            if (filledHole && _outOfOrder.StartAt(0) <= _rcvNxt)
            {
                _rcvNxt = Math.Max(_rcvNxt, _outOfOrder.EndAt(0));
            }

            _outOfOrder.RemoveBelow(_rcvNxt);
            Stats.BytesDelivered += _rcvNxt - offset;
            _acks.OnInOrderSegment(nowUs, immediate: filledHole || !_agreed.Extended);

            Raise(TouConnectionEvents.Readable);
            CheckPeerFin();
        }
        else
        {
            if (_outOfOrder.Contains(offset, end))
            {
                Stats.DuplicateBytesReceived += data.Length;
            }
            else
            {
                // Remember the newest block first in SACK reports (RFC 2018).
                if (!_outOfOrder.Add(offset, end))
                {
                    Drop(DropReason.OutOfOrderFull);
                    _acks.RequestImmediate();
                    return;
                }

                _receiveBuffer ??= new StreamBuffer(_options.ReceiveBufferSize, _chunkPool);
                _receiveBuffer.Write(offset, data);
                _acks.LastSackUpdateStart = offset;
            }

            _acks.RequestImmediate(); // out of order: acknowledge at once so the sender sees the hole
        }
    }

    private void HandleFin(in TouHeader header, long finOffset, long windowEnd)
    {
        if (!_agreed.Extended)
        {
            // The seed's FIN carries a stale sequence number, so the stream ends where our data ends.
            // It is acknowledged the seed's way: seq = its acknum, ack = its seqnum + 1.
            long staleOrCurrent = ReceiveOffset(new SequenceNumber(header.SequenceNumber));
            if (staleOrCurrent < 0 || staleOrCurrent > windowEnd)
            {
                Drop(DropReason.OutOfWindow);
                return;
            }

            if (_peerFinOffset < 0)
            {
                // A stale number points at or below what arrived; the true one (a Tou.Kestrel peer) is the end itself.
                _peerFinOffset = Math.Max(ReceivedEnd, staleOrCurrent);
            }

            _acks.QueuePlainFinAck(header.AcknowledgementNumber, header.SequenceNumber + 1);
            CheckPeerFin();
            return;
        }

        // The FIN must sit exactly at the end of the data received so far (which lies inside the window): a FIN
        // anywhere else is either early (reordered; it is retransmitted) or forged, and accepting it would cut the
        // stream short.
        if (finOffset != ReceivedEnd || (_peerFinOffset >= 0 && finOffset != _peerFinOffset))
        {
            if (!(_peerFinConsumed && finOffset == _peerFinOffset))
            {
                Drop(DropReason.OutOfWindow);
            }

            _acks.RequestImmediate();
            return;
        }

        _peerFinOffset = finOffset;
        _acks.RequestImmediate();
        CheckPeerFin();
    }

    private void CheckPeerFin()
    {
        if (!_peerFinConsumed && _peerFinOffset >= 0 && _rcvNxt >= _peerFinOffset)
        {
            _peerFinConsumed = true;
            if (_agreed.Extended)
            {
                _acks.RequestImmediate(); // a plain peer's FIN has its own seed-style ACK queued already
            }
            Log.PeerClosed(_logger, Id);
            Raise(TouConnectionEvents.ReceiveCompleted | TouConnectionEvents.Readable);
            MaybeFinishClose();
        }
    }

    private void ArmKeepAlive(long nowUs)
    {
        _timers[TimerKind.KeepAlive] = _options.KeepAliveInterval > TimeSpan.Zero
            ? nowUs + TouTime.FromTimeSpan(_options.KeepAliveInterval)
            : TouTime.Never;
    }

    private void Drop(DropReason reason)
    {
        Stats.PacketsDropped++;
        Stats.IntegrityFailures += reason == DropReason.Integrity ? 1 : 0;
        Log.PacketDropped(_logger, Id, reason);
    }
}
