using Tou.Protocol.Congestion;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

// The handshake: the client's SYN and the server's SYN+ACK (or a SYN cookie's return), with retransmission and
// anti-amplification, the options they agree and becoming established.
public sealed partial class TouConnection
{
    /// <summary>Client side: start the handshake.</summary>
    internal void StartConnect(long nowUs)
    {
        _sendSeqBase = _iss + 1;
        _timers[TimerKind.Retransmission] = nowUs + _rtt.RtoUs;
        Log.Connecting(_logger, Id);
    }

    /// <summary>
    /// The network reported that nothing listens on the peer's port (an ICMP port unreachable, which a connected UDP
    /// socket surfaces as ECONNREFUSED). A handshake this side started ends as refused at once, as TCP's connect does,
    /// instead of retrying until the handshake timeout. Anything else is ignored: the report is not authenticated, and
    /// an established peer may be restarting; retransmission and idle timeouts end the connection if it is gone.
    /// </summary>
    /// <returns>Whether the connection ended.</returns>
    public bool HandlePortUnreachable()
    {
        if (!_isClient || State != TouConnectionState.Connecting || CloseReason != TouCloseReason.None)
        {
            return false;
        }

        EndConnection(TouCloseReason.Refused, linger: false);
        Notify();
        return true;
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
        AgreeConnectionIds(offer.ConnectionId);
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
        _receiveWindow.Shift = agreement.ReceiveShift;
        if (_agreed.Integrity)
        {
            _sendKey = _agreed.Keys.ForSending(_isClient);
            _receiveKey = _agreed.Keys.ForReceiving(_isClient);
        }
    }

    private void SetMss(uint peerMss)
    {
        _sendMss = AgreedOptions.SendMss(_options, _agreed.Extended, peerMss) - IdOverhead; // the ID rides in every datagram
        _peerMaxDatagram = AgreedOptions.PeerMaxDatagramSize(peerMss);
        Stats.DatagramSize = DatagramSizeOf(_sendMss);
        _congestion = CongestionControllerFactory.Create(_options.CongestionControl, _sendMss);
        _loss.Start(_agreed.Sack, _sendMss);
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
        AgreeConnectionIds(offer.ConnectionId);

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
        _trace?.StateChanged(nowUs);
        _timers.Clear(TimerKind.Handshake);
        ArmIdle();
        ArmLinger();
        _rtoRetransmits = 0;
        _receiveWindow.ResetAdvertised();
        ArmKeepAlive(nowUs);
        Log.ConnectionEstablished(_logger, Id, _agreed.Extended, _agreed.Sack, _agreed.Integrity, _agreed.WindowShift, _sendMss);
        StartPathMtuDiscovery(nowUs);
        _host?.OnEstablished();
        Raise(TouConnectionEvents.Connected | TouConnectionEvents.Writable);
        Notify();
    }

    private int BuildSyn(long nowUs, Span<byte> buffer)
    {
        if (!_synPending)
        {
            return 0;
        }

        _synPending = false;
        _synSentUs = nowUs;
        int payload = Extensions.WriteOffer(buffer[TouHeader.Size..], OfferWithId());
        if (!_options.EnableExtensions)
        {
            payload = 0;
        }

        int length = WriteHeader(buffer, TouFlags.Syn, _iss, 0, payload, AgreedOptions.HandshakeWindow(_options));
        return _options.EnableExtensions && _options.EnableIntegrity ? Extensions.AppendCrc(buffer, length) : length;
    }

    private int BuildSynAck(long nowUs, Span<byte> buffer)
    {
        if (!_synAckPending)
        {
            return 0;
        }

        _synAckPending = false;

        // Anti-amplification: until the handshake proves the address, it gets at most three times the bytes it sent.
        int size = AgreedOptions.SynAckSize(_agreed);
        if (_unvalidatedBytesOut + size > 3 * _unvalidatedBytesIn)
        {
            Stats.AmplificationLimited++;
            return 0;
        }

        _unvalidatedBytesOut += size;
        _synSentUs = nowUs;
        int payload = 0;
        if (_agreed.Extended)
        {
            payload = Extensions.WriteOffer(buffer[TouHeader.Size..], _agreed);
        }

        int length = WriteHeader(buffer, TouFlags.Syn | TouFlags.Ack, _iss, _receiveSeqBase.Value, payload, AgreedOptions.HandshakeWindow(_options));
        return _agreed.Integrity ? Extensions.AppendCrc(buffer, length) : length;
    }

    /// <summary>The handshake gives up, or its SYN or SYN+ACK was lost and goes again with exponential backoff.</summary>
    private void HandleHandshakeTimeout(long nowUs)
    {
        if (_timers.IsDue(TimerKind.Handshake, nowUs))
        {
            Log.HandshakeFailed(_logger, Id, _rtoRetransmits);
            EndConnection(TouCloseReason.HandshakeTimeout, linger: false);
            return;
        }

        if (_timers.IsDue(TimerKind.Retransmission, nowUs))
        {
            _rtt.OnTimeout();
            _rtoRetransmits++;
            Stats.Retransmissions++;
            _timers[TimerKind.Retransmission] = nowUs + _rtt.RtoUs;
            if (_phase == Phase.SynSent)
            {
                _synPending = true;
            }
            else
            {
                _synAckPending = true;
            }

            Notify();
        }
    }
}
