using System.Buffers.Binary;
using Tou.Protocol.Buffers;
using Tou.Protocol.Congestion;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

public sealed partial class TouConnection
{
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
                : VerifyTag(datagram, header.PayloadLength);
            bool bareRst = IsBareRst(datagram, header);
            if (!authenticated && !bareRst)
            {
                Drop(DropReason.Integrity);
                return;
            }
        }

        Stats.PacketsReceived++;
        Stats.BytesReceived += datagram.Length;
        _trace?.PacketReceived(nowUs, datagram);
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

    /// <param name="authenticated">The packet's integrity tag verified (so it comes from the peer).</param>
    private void HandleSynchronized(long nowUs, in TouHeader header, ReadOnlySpan<byte> payload, bool authenticated)
    {
        var flags = header.Flags;
        long seqOffset = ReceiveOffset(new SequenceNumber(header.SequenceNumber));
        long windowEnd = _receiveWindow.End;

        if ((flags & TouFlags.Rst) != 0)
        {
            HandleRst(seqOffset, windowEnd, authenticated);
            return;
        }

        if ((flags & TouFlags.Syn) != 0)
        {
            HandleSynWhenSynchronized(header);
            return;
        }

        if (_phase == Phase.TimeWait)
        {
            HandleInTimeWait(header);
            return;
        }

        if (!TryReadSegment(nowUs, header, payload, seqOffset, out var data, out var options))
        {
            return;
        }

        _lastReceiveUs = nowUs;
        ArmIdle();
        ArmKeepAlive(nowUs);
        if (!options.IsEmpty)
        {
            ReadPathOptions(nowUs, options);
        }

        if ((flags & TouFlags.Ack) != 0 && !HandleAck(nowUs, header, seqOffset, data.Length, options))
        {
            Notify();
            return;
        }

        if (!data.IsEmpty)
        {
            Stats.DataPacketsReceived++;
            _largestSegmentReceived = Math.Max(_largestSegmentReceived, data.Length);
            HandleData(nowUs, seqOffset, data);
            if (CloseReason != TouCloseReason.None)
            {
                Notify();
                return;
            }
        }

        OweAcknowledgement(header, seqOffset);
        if ((flags & TouFlags.Fin) != 0)
        {
            HandleFin(header, seqOffset + data.Length, windowEnd);
        }

        Notify();
    }

    /// <summary>A retransmitted SYN+ACK means our handshake ACK was lost; any other SYN is answered with a challenge ACK (RFC 5961).</summary>
    private void HandleSynWhenSynchronized(in TouHeader header)
    {
        if (_isClient && new SequenceNumber(header.SequenceNumber) == _irs && (header.Flags & TouFlags.Ack) != 0)
        {
            _handshakeAckPending = true;
        }
        else
        {
            _acks.RequestChallenge();
            Drop(DropReason.Unexpected);
        }

        Notify();
    }

    /// <summary>Only a retransmitted FIN matters now: acknowledge it again.</summary>
    private void HandleInTimeWait(in TouHeader header)
    {
        if ((header.Flags & TouFlags.Fin) == 0)
        {
            return;
        }

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

    /// <summary>
    /// Splits a segment's payload into options and data and checks it: extended peers set ACK on every packet,
    /// the options must parse, and the segment must fall in the window. Returns false when it was dropped.
    /// </summary>
    private bool TryReadSegment(long nowUs, in TouHeader header, ReadOnlySpan<byte> payload, long seqOffset, out ReadOnlySpan<byte> data, out ReadOnlySpan<byte> options)
    {
        var flags = header.Flags;
        data = payload;
        options = default;
        if (_agreed.Extended && (flags & TouFlags.Ack) == 0)
        {
            // Extended peers put ACK on every packet after the SYN; one without it is an injection attempt.
            Drop(DropReason.Unexpected);
            return false;
        }

        if ((flags & TouFlags.Options) != 0 && !Extensions.TrySplitOptions(payload, out options, out data))
        {
            Drop(DropReason.Malformed);
            return false;
        }

        if (!_agreed.Extended && (flags & TouFlags.Ack) != 0)
        {
            data = default; // the seed treats any ACK-flagged packet as a pure ACK
        }

        if (!options.IsEmpty && NoteProbe(nowUs, options))
        {
            data = default; // a path MTU probe: what follows its option block is padding, not data
        }

        // A segment must overlap the window (or be an empty one at its edge) to be acceptable.
        if (!_receiveWindow.Accepts(seqOffset, data.Length) && _agreed.Extended)
        {
            _acks.RequestImmediate();
            Drop(DropReason.OutOfWindow);
            Notify();
            return false;
        }

        return true;
    }

    /// <summary>The acknowledgement a segment earns apart from what its data and FIN earn.</summary>
    private void OweAcknowledgement(in TouHeader header, long seqOffset)
    {
        var flags = header.Flags;
        if (!_agreed.Extended && (flags & (TouFlags.Ack | TouFlags.Fin)) == 0)
        {
            // The seed answers every data packet (duplicates and empty probes too) with its own ACK, which
            // carries the state right after that packet: identical ACKs would read as duplicate ACKs.
            _acks.QueuePlain(header.AcknowledgementNumber, AckField);
        }
        else if ((flags & TouFlags.Ping) != 0 || (_agreed.Extended && seqOffset < _receiveWindow.Next && (flags & TouFlags.Fin) == 0 && (flags & TouFlags.Ack) == 0))
        {
            _acks.RequestImmediate();
        }

        if ((flags & TouFlags.Ping) != 0)
        {
            _acks.RequestImmediate();
        }
    }

    private void HandleRst(long seqOffset, long windowEnd, bool authenticated)
    {
        // The exact edge is our acknowledgement number, which counts the peer's FIN once consumed. A tagged RST
        // comes from the peer itself, whose numbering may be ahead of ours (data or its FIN still in flight).
        long edge = _receiveWindow.Next + (_peerFinConsumed ? 1 : 0);
        if (_agreed.Extended && seqOffset != edge && !authenticated)
        {
            // RFC 5961: an RST that is in the window but not exactly at its edge earns a challenge ACK.
            if (seqOffset >= _receiveWindow.Next && seqOffset < windowEnd)
            {
                _acks.RequestChallenge();
                Notify();
            }

            Drop(DropReason.OutOfWindow);
            return;
        }

        if (!_agreed.Extended && (seqOffset < _receiveWindow.Next || seqOffset > windowEnd))
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
        if (!IsAcceptableAck(ackOffset))
        {
            return false;
        }

        var (windowChanged, opened) = _peerWindow.Update((long)header.Window << _sendShift, ackOffset, seqOffset);
        if (opened && _timers[TimerKind.Persist] != TouTime.Never && _peerWindow.Room(_sndUna, _sndNxt) > 0)
        {
            _timers.Clear(TimerKind.Persist);
            _peerWindow.Reopened();
        }

        bool advanced = ackOffset > _sndUna;
        if (advanced)
        {
            NoteProgress(nowUs);
            AdvanceUnacknowledged(ackOffset);
            _consecutiveRtos = 0;
            _rtt.ResetBackoff(); // progress: the path works, even if Karn's rule gave no new sample
        }

        bool duplicate = !advanced && ackOffset == _sndUna && dataLength == 0 && !windowChanged && options.IsEmpty
                         && (header.Flags & (TouFlags.Fin | TouFlags.Ping)) == 0;
        Span<(long Start, long End)> sack = stackalloc (long Start, long End)[Extensions.MaxSackBlocks];
        int sackBlocks = _agreed.Sack && !options.IsEmpty ? ReadSackBlocks(Extensions.FindSackBlocks(options), sack) : 0;
        var outcome = _loss.OnAck(new ReceivedAck
        {
            NowUs = nowUs,
            AckDelayUs = _agreed.Extended && !options.IsEmpty ? Extensions.FindAckDelay(options) : 0,
            AckOffset = ackOffset,
            Advanced = advanced,
            Duplicate = duplicate,
            SackBlocks = sack[..sackBlocks],
            SndUna = _sndUna,
            SndNxt = _sndNxt,
        });
        ApplyAckOutcome(nowUs, outcome);
        if (!options.IsEmpty)
        {
            ReadProbeEcho(nowUs, options);
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

    /// <summary>
    /// An ACK of what we never sent (an off-path guess or corruption), or older than the largest window the peer
    /// ever offered (RFC 5961 §5: it cannot be a late one of ours), is dropped; an extended peer gets a challenge ACK.
    /// </summary>
    private bool IsAcceptableAck(long ackOffset)
    {
        if (ackOffset <= SendLimit && ackOffset >= _sndUna - Math.Max(_peerWindow.Largest, ushort.MaxValue))
        {
            return true;
        }

        if (_agreed.Extended)
        {
            _acks.RequestChallenge();
        }

        Drop(DropReason.OutOfWindow);
        return false;
    }

    /// <summary>The cumulative acknowledgement moved: the send buffer lets go of what the peer holds and the writer may go on.</summary>
    private void AdvanceUnacknowledged(long ackOffset)
    {
        long dataAcked = Math.Min(ackOffset, _written) - _sndUna;
        _sndUna = Math.Min(ackOffset, _sndNxt);
        _sendBuffer?.DiscardTo(_sndUna);
        Stats.BytesAcknowledged += Math.Max(0, dataAcked);
        Raise(TouConnectionEvents.Writable | (_sndUna == _written ? TouConnectionEvents.SendAcknowledged : 0));
    }

    /// <summary>Reads SACK blocks (pairs of big-endian sequence numbers) as stream offsets; returns how many.</summary>
    private int ReadSackBlocks(ReadOnlySpan<byte> blocks, Span<(long Start, long End)> offsets)
    {
        int count = Math.Min(blocks.Length / 8, offsets.Length);
        for (int i = 0; i < count; i++)
        {
            var block = blocks[(i * 8)..];
            offsets[i] = (SendOffset(new SequenceNumber(BinaryPrimitives.ReadUInt32BigEndian(block))),
                          SendOffset(new SequenceNumber(BinaryPrimitives.ReadUInt32BigEndian(block[4..]))));
        }

        return count;
    }

    /// <summary>Passes what an ACK did on to the congestion controller, the counters and the retransmission timer.</summary>
    private void ApplyAckOutcome(long nowUs, in AckOutcome outcome)
    {
        if (outcome.UndoRecovery)
        {
            _congestion.UndoCongestionEvent();
        }

        Stats.SpuriousRetransmissions += outcome.SpuriousRetransmissions;
        Stats.InvalidSackBlocks += outcome.InvalidSackBlocks;
        if (outcome.SackedBytes > 0)
        {
            NoteProgress(nowUs); // new data reached the peer, though not yet in order
        }

        long rttSampleUs = outcome.RttSampleUs;
        if (rttSampleUs >= 0)
        {
            Stats.RttSamples++;
            _host?.OnRttSample(rttSampleUs);
        }

        ApplyLosses(nowUs, outcome);
        long deliveredBytes = outcome.DeliveredBytes;
        if (deliveredBytes > 0 && (!_loss.InRecovery || _congestion.WantsAcksInRecovery))
        {
            bool windowLimited = _loss.BytesInFlight + deliveredBytes + (2L * _sendMss) >= _congestion.CongestionWindow;
            _congestion.OnAcked(nowUs, deliveredBytes, windowLimited, new AckSample(Math.Max(rttSampleUs, 0), _rtt.SmoothedRttUs, _rtt.MinRttUs)
            {
                DeliveryRate = outcome.DeliveryRate,
                AppLimited = outcome.AppLimited,
                PriorDelivered = outcome.PriorDelivered,
                Delivered = outcome.Delivered,
                BytesInFlight = _loss.BytesInFlight,
            });
        }

        // Restart the retransmission timer on progress (RFC 6298 5.3); stop it when nothing is outstanding.
        if (deliveredBytes > 0)
        {
            _timers[TimerKind.Retransmission] = HasOutstanding ? nowUs + _rtt.RtoUs : TouTime.Never;
            _probeOutstanding = false;
            ArmTailLossProbe(nowUs);
        }

        _trace?.MetricsUpdated(nowUs, rttSampleUs);
    }

    /// <summary>Counts what the loss detector declared lost; the start of a recovery episode is the controller's congestion event.</summary>
    private void ApplyLosses(long nowUs, in AckOutcome outcome)
    {
        Stats.SegmentsLost += outcome.LostSegments;
        if (outcome.LostBytes > 0)
        {
            _congestion.OnPacketsLost(nowUs, outcome.LostBytes, outcome.LostInflightAtSend);
        }

        if (outcome.RecoveryStarted)
        {
            _congestion.OnCongestionEvent(nowUs, outcome.BytesInFlightBeforeLoss);
            Stats.CongestionEvents++;
        }

        if (outcome.LostSegments > 0)
        {
            _trace?.PacketsLost(nowUs, outcome.LostSegments, outcome.LostBytes, "ack");
            Notify();
        }
    }

    /// <summary>Something sent is neither acknowledged nor SACKed (the FIN counts though it has no bytes).</summary>
    private bool HasOutstanding => _loss.BytesInFlight > 0 || _loss.HasLostSegments || (_finSent && !_finAcked);

    internal bool WasEstablished { get; private set; }

    private void HandleData(long nowUs, long offset, ReadOnlySpan<byte> data)
    {
        // Trim what was already received and what lies beyond the buffer (or the peer's FIN).
        var (skip, cut) = _receiveWindow.Trim(offset, data.Length, _peerFinOffset);
        Stats.DuplicateBytesReceived += skip;
        Stats.BytesBeyondWindow += cut;
        data = data[skip..^cut];
        offset += skip;
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

        if (offset == _receiveWindow.Next)
        {
            AcceptInOrder(nowUs, offset, data);
        }
        else
        {
            AcceptOutOfOrder(offset, data);
            _acks.RequestImmediate(); // out of order: acknowledge at once so the sender sees the hole
        }
    }

    private void AcceptInOrder(long nowUs, long offset, ReadOnlySpan<byte> data)
    {
        _receiveBuffer ??= new StreamBuffer(_options.ReceiveBufferSize, _chunkPool);
        _receiveBuffer.Write(offset, data);
        Stats.BytesDelivered += _receiveWindow.OnInOrder(offset + data.Length, out bool filledHole);
        _acks.OnInOrderSegment(nowUs, data.Length, immediate: filledHole || !_agreed.Extended, _rtt.HasSample ? _rtt.SmoothedRttUs : 0);

        Raise(TouConnectionEvents.Readable);
        CheckPeerFin();
    }

    private void AcceptOutOfOrder(long offset, ReadOnlySpan<byte> data)
    {
        long end = offset + data.Length;
        if (_receiveWindow.HoldsOutOfOrder(offset, end))
        {
            Stats.DuplicateBytesReceived += data.Length;
            return;
        }

        if (!_receiveWindow.TryHoldOutOfOrder(offset, end))
        {
            Drop(DropReason.OutOfOrderFull);
            return;
        }

        _receiveBuffer ??= new StreamBuffer(_options.ReceiveBufferSize, _chunkPool);
        _receiveBuffer.Write(offset, data);
        _acks.LastSackUpdateStart = offset; // the newest block goes first in SACK reports (RFC 2018)
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
                _peerFinOffset = Math.Max(_receiveWindow.ReceivedEnd, staleOrCurrent);
            }

            _acks.QueuePlainFinAck(header.AcknowledgementNumber, header.SequenceNumber + 1);
            CheckPeerFin();
            return;
        }

        // The FIN must sit exactly at the end of the data received so far (which lies inside the window): a FIN
        // anywhere else is either early (reordered; it is retransmitted) or forged, and accepting it would cut the
        // stream short.
        if (finOffset != _receiveWindow.ReceivedEnd || (_peerFinOffset >= 0 && finOffset != _peerFinOffset))
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
        if (!_peerFinConsumed && _peerFinOffset >= 0 && _receiveWindow.Next >= _peerFinOffset)
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
