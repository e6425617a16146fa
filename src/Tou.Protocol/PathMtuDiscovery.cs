namespace Tou.Protocol;

/// <summary>
/// Datagram Packetization Layer Path MTU Discovery (RFC 8899) for one connection's send direction, and the answers
/// this side owes the peer's probes. Sizes are whole datagrams (UDP payload: header, payload and trailer).
/// </summary>
/// <remarks>
/// <para>States: <b>off</b> (not agreed, or not wanted); <b>searching</b> between the largest size confirmed
/// (<see cref="Current"/>, the base at first) and the largest not known to fail; <b>complete</b>, with a timer that
/// searches again after <see cref="RaiseIntervalUs"/> unless the ceiling was reached.</para>
/// <para>A search probes the ceiling first (on loopback and on most paths the interface's limit is the path's, so one
/// probe settles it), then halves the interval: a confirmed probe raises the lower end, <see cref="MaxProbes"/>
/// unanswered ones (or one the local stack refused as too large) lower the upper end, until they meet. Probes are
/// padding, not data: a lost one is never retransmitted and never counted as congestion.</para>
/// <para>Black holes: <see cref="BlackHoleTimeouts"/> consecutive retransmission timeouts while sending above the
/// base mean that full-size packets stopped getting through; the size falls back to the base and the search starts
/// again below the size that failed. At the base itself <see cref="BlackHoleTimeoutsAtBase"/> of them fall back to
/// <see cref="MinimumSize"/> (a path smaller
/// than the base, which the don't-fragment bit no longer lets the kernel fragment), and the search finds the path's
/// size between the two.</para>
/// The connection decides when a probe may leave (congestion window, recovery); this part decides which size and
/// what an answer or a timeout means. It arms <see cref="TimerKind.PathMtu"/> in <paramref name="timers"/> and counts
/// in <paramref name="stats"/>.
/// </remarks>
internal sealed class PathMtuDiscovery(ConnectionTimers timers, TouConnectionStats stats)
{
    /// <summary>Unanswered probes of one size after which that size counts as too large (RFC 8899 MAX_PROBES).</summary>
    public const int MaxProbes = 3;

    /// <summary>Consecutive retransmission timeouts above the base size that mean a black hole.</summary>
    public const int BlackHoleTimeouts = 2;

    /// <summary>Consecutive retransmission timeouts at the base size that mean a path smaller than the base: more than
    /// above it, because a path smaller than 1,452 bytes is rarer than a lossy one that loses a retransmission twice.</summary>
    public const int BlackHoleTimeoutsAtBase = 4;

    /// <summary>Time after a finished search before searching again for a larger path (RFC 8899 PMTU_RAISE_TIMER).</summary>
    public const long RaiseIntervalUs = 600_000_000;

    /// <summary>The size a black hole at the base falls back to (QUIC's smallest datagram, RFC 9000 §14; it fits
    /// IPv6's 1,280-byte minimum MTU).</summary>
    public const int MinimumSize = 1200;

    private SearchPhase _phase;
    private int _base;
    private int _floor;         // the smaller of the base and MinimumSize: below it nothing falls back
    private int _ceiling;       // the most ever tried: the smallest of our cap, the peer's limit and the local interface's
    private int _high;          // the largest size not known to fail
    private bool _ceilingTried; // the first probe of a search goes straight to _high
    private int _probeSize;     // the size of the outstanding (or last) probe
    private int _attempts;      // probes of _probeSize sent without an answer
    private bool _outstanding;
    private uint _token;
    private uint _nextToken = 1;
    private uint _echoToken;

    private enum SearchPhase
    {
        Off,
        Searching,
        Complete,
    }

    /// <summary>The largest datagram confirmed to get through (the base until a probe is answered).</summary>
    public int Current { get; private set; }

    /// <summary>The size a search starts from and a black hole falls back to.</summary>
    public int Base => _base;

    /// <summary>Discovery runs on this connection (it was agreed and wanted).</summary>
    public bool IsEnabled => _phase != SearchPhase.Off;

    /// <summary>A search is under way (a probe is due or outstanding).</summary>
    public bool IsSearching => _phase == SearchPhase.Searching;

    /// <summary>A probe awaits its answer.</summary>
    public bool ProbeOutstanding => _outstanding;

    /// <summary>The size of the last probe sent (for logs).</summary>
    public int LastProbeSize => _probeSize;

    /// <summary>The size of the probe to send now, or 0 when none is due.</summary>
    public int DueProbeSize => _phase == SearchPhase.Searching && !_outstanding ? NextSize() : 0;

    /// <summary>The peer sent a probe this side has not answered yet.</summary>
    public bool EchoOwed { get; private set; }

    /// <summary>Starts discovery once the handshake is done: datagrams start at <paramref name="baseSize"/> and may grow to <paramref name="ceiling"/>.</summary>
    public void Start(int baseSize, int ceiling, long nowUs)
    {
        _base = Current = baseSize;
        _floor = Math.Min(baseSize, MinimumSize);
        _ceiling = _high = Math.Max(ceiling, baseSize);
        _ceilingTried = false;
        _attempts = 0;
        _outstanding = false;
        _phase = SearchPhase.Searching;
        if (_high <= Current)
        {
            Finish(nowUs); // nothing above the base to look for
        }
    }

    /// <summary>A probe of <paramref name="size"/> bytes left; returns its token. It counts as lost after <paramref name="timeoutUs"/>.</summary>
    public uint OnProbeSent(int size, long nowUs, long timeoutUs)
    {
        if (size != _probeSize)
        {
            _probeSize = size;
            _attempts = 0;
        }

        _attempts++;
        _outstanding = true;
        _token = _nextToken++;
        stats.PathMtuProbesSent++;
        timers[TimerKind.PathMtu] = nowUs + timeoutUs;
        return _token;
    }

    /// <summary>The peer echoed a probe's token. Returns true when that confirmed a larger <see cref="Current"/>.</summary>
    public bool OnEcho(uint token, long nowUs)
    {
        if (!_outstanding || token != _token)
        {
            return false; // an answer to a probe already given up, or a duplicate
        }

        _outstanding = false;
        timers.Clear(TimerKind.PathMtu);
        stats.PathMtuProbesAcknowledged++;
        _attempts = 0;
        _ceilingTried = true;
        bool raised = _probeSize > Current;
        Current = Math.Max(Current, _probeSize);
        if (_high <= Current)
        {
            Finish(nowUs);
        }

        return raised;
    }

    /// <summary>The <see cref="TimerKind.PathMtu"/> timer: an unanswered probe is lost, or a finished search starts again.</summary>
    public void OnTimer(long nowUs)
    {
        if (!timers.IsDue(TimerKind.PathMtu, nowUs))
        {
            return;
        }

        timers.Clear(TimerKind.PathMtu);
        if (_outstanding)
        {
            _outstanding = false;
            ProbeLost(nowUs, definitive: _attempts >= MaxProbes);
        }
        else if (_phase == SearchPhase.Complete)
        {
            // PMTU_RAISE_TIMER: the path may carry more now.
            _high = _ceiling;
            _ceilingTried = false;
            _attempts = 0;
            _phase = SearchPhase.Searching;
        }
    }

    /// <summary>
    /// The local stack refused to send a datagram of <paramref name="length"/> bytes as too large (EMSGSIZE). A probe of
    /// that size is lost for certain; a data datagram means the current size no longer fits, so it falls back to the
    /// base. Returns true when <see cref="Current"/> fell.
    /// </summary>
    public bool OnTooLarge(int length, long nowUs)
    {
        if (_phase == SearchPhase.Off || length <= _floor)
        {
            return false; // even the smallest size does not fit: nothing smaller to fall back to
        }

        _high = Math.Min(_high, length - 1);
        if (_outstanding && length == _probeSize)
        {
            _outstanding = false;
            timers.Clear(TimerKind.PathMtu);
            ProbeLost(nowUs, definitive: true);
            return false;
        }

        if (length > Current)
        {
            return false; // an earlier probe's: the new upper bound is all it says
        }

        FallBack(length > _base ? _base : _floor, nowUs);
        return true;
    }

    /// <summary>
    /// A retransmission timeout, the <paramref name="consecutiveTimeouts"/>-th in a row. Enough of them is a black hole:
    /// above the base the size falls back to the base, at the base to <see cref="MinimumSize"/>. Returns true when it fell.
    /// </summary>
    public bool OnRetransmissionTimeout(int consecutiveTimeouts, long nowUs)
    {
        if (_phase == SearchPhase.Off || Current <= _floor || consecutiveTimeouts < (Current > _base ? BlackHoleTimeouts : BlackHoleTimeoutsAtBase))
        {
            return false;
        }

        stats.PathMtuBlackHoles++;
        _high = Current - 1;
        FallBack(Current > _base ? _base : _floor, nowUs);
        return true;
    }

    /// <summary>The peer sent a probe: an ACK echoing <paramref name="token"/> is owed (the newest probe's if several came).</summary>
    public void OnProbeReceived(uint token)
    {
        EchoOwed = true;
        _echoToken = token;
    }

    /// <summary>The token to echo in the ACK going out now; nothing is owed afterwards.</summary>
    public uint TakeEcho()
    {
        EchoOwed = false;
        return _echoToken;
    }

    /// <summary>The ceiling first, then the upper middle of what is left (always above <see cref="Current"/>).</summary>
    private int NextSize() => _ceilingTried ? Current + ((_high - Current + 1) / 2) : _high;

    private void ProbeLost(long nowUs, bool definitive)
    {
        stats.PathMtuProbesLost++;
        if (definitive)
        {
            _high = _probeSize - 1;
            _ceilingTried = true;
            _attempts = 0;
        }

        if (_high <= Current)
        {
            Finish(nowUs);
        }
    }

    private void FallBack(int size, long nowUs)
    {
        Current = size;
        _outstanding = false;
        _attempts = 0;
        _ceilingTried = true;
        timers.Clear(TimerKind.PathMtu);
        _phase = SearchPhase.Searching;
        if (_high <= Current)
        {
            Finish(nowUs);
        }
    }

    /// <summary>The search is over; it starts again after the raise interval unless nothing larger is allowed.</summary>
    private void Finish(long nowUs)
    {
        _phase = SearchPhase.Complete;
        timers[TimerKind.PathMtu] = Current < _ceiling ? nowUs + RaiseIntervalUs : TouTime.Never;
    }
}
