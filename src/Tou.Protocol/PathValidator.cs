using System.Net;

namespace Tou.Protocol;

/// <summary>
/// Path validation for one connection (docs/protocol.md §5.7, after RFC 9000 §8.2 and §9): a tagged packet from an
/// address that is not the connection's is processed, but the connection moves there only after the address echoed a
/// random 8-byte challenge. Until then that address gets nothing but challenges, and at most three times the bytes it
/// sent (anti-amplification), so a replayed or spoofed packet cannot turn the connection into a flood at a victim. It
/// also holds the answer this side owes a challenge of the peer's.
/// </summary>
/// <remarks>One candidate path at a time: a newer packet from yet another address replaces it (the latest move wins).
/// Each challenge waits two retransmission timeouts; after <see cref="MaxChallenges"/> unanswered ones the candidate is
/// given up (a later packet from it starts over). It arms <see cref="TimerKind.PathValidation"/> and counts in
/// <paramref name="stats"/>.</remarks>
internal sealed class PathValidator(ConnectionTimers timers, TouConnectionStats stats)
{
    /// <summary>Challenges sent to one candidate before it is given up.</summary>
    public const int MaxChallenges = 3;

    /// <summary>An unvalidated address gets at most this many times the bytes received from it (RFC 9000 §8).</summary>
    public const int AmplificationFactor = 3;

    private SocketAddress? _candidate;
    private ulong _token;
    private int _challengesSent;
    private bool _challengeOwed;
    private long _bytesIn;  // from the candidate
    private long _bytesOut; // to the candidate
    private SocketAddress? _responseTo;
    private ulong _responseToken;

    /// <summary>The address being validated, or null.</summary>
    public SocketAddress? Candidate => _candidate;

    /// <summary>A challenge or a response waits to be sent.</summary>
    public bool HasPending => _challengeOwed || _responseTo is not null;

    /// <summary>
    /// A packet whose tag verified came from <paramref name="from"/>, which is not the connection's address. Bytes from
    /// the candidate raise its budget; <paramref name="newest"/> (the packet is not a late one from a path left behind)
    /// makes another address the candidate, with a new challenge <paramref name="token"/>.
    /// </summary>
    public void OnPacket(SocketAddress from, int length, bool newest, ulong token)
    {
        if (_candidate is not null && _candidate.Equals(from))
        {
            _bytesIn += length;
            stats.UnvalidatedPathBytesReceived += length;
            return;
        }

        if (!newest)
        {
            return; // a late packet from a path left behind never starts a validation
        }

        _candidate = SocketAddresses.Copy(from);
        _token = token;
        _challengesSent = 0;
        _challengeOwed = true;
        _bytesIn = length;
        _bytesOut = 0;
        stats.UnvalidatedPathBytesReceived += length;
        stats.PathValidationsStarted++;
        timers.Clear(TimerKind.PathValidation);
    }

    /// <summary>The peer challenged the address it sent from: echo the token there.</summary>
    public void OnChallenge(SocketAddress from, ulong token)
    {
        _responseTo = SocketAddresses.Copy(from);
        _responseToken = token;
    }

    /// <summary>A response: true when it echoes the candidate's challenge and came from the candidate, which is then validated.</summary>
    public bool OnResponse(SocketAddress from, ulong token)
    {
        if (_candidate is null || _challengesSent == 0 || token != _token || !_candidate.Equals(from))
        {
            return false;
        }

        Forget();
        stats.PathValidationsSucceeded++;
        return true;
    }

    /// <summary>The response owed, if any, and where it goes; <paramref name="size"/> bytes are charged to an unvalidated address.</summary>
    public bool TryTakeResponse(int size, out SocketAddress to, out ulong token)
    {
        to = _responseTo!;
        token = _responseToken;
        if (_responseTo is null)
        {
            return false;
        }

        _responseTo = null;
        if (_candidate is not null && _candidate.Equals(to))
        {
            if (!Charge(size))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The challenge owed to the candidate, within its anti-amplification budget; arms the timer that repeats it.</summary>
    public bool TryTakeChallenge(int size, long nowUs, long rtoUs, out SocketAddress to, out ulong token)
    {
        to = _candidate!;
        token = _token;
        if (!_challengeOwed || _candidate is null || !Charge(size))
        {
            return false;
        }

        _challengeOwed = false;
        _challengesSent++;
        stats.PathChallengesSent++;
        timers[TimerKind.PathValidation] = nowUs + (2 * rtoUs);
        return true;
    }

    /// <summary>The challenge timer: send it again, or give the candidate up.</summary>
    public void OnTimer()
    {
        timers.Clear(TimerKind.PathValidation);
        if (_candidate is null)
        {
            return;
        }

        if (_challengesSent >= MaxChallenges)
        {
            stats.PathValidationsFailed++;
            Forget();
            return;
        }

        _challengeOwed = true;
    }

    /// <summary>Sending <paramref name="size"/> bytes to the candidate stays within 3× what it sent; counts a refusal.</summary>
    private bool Charge(int size)
    {
        if (_bytesOut + size > AmplificationFactor * _bytesIn)
        {
            stats.AmplificationLimited++;
            return false;
        }

        _bytesOut += size;
        stats.UnvalidatedPathBytesSent += size;
        return true;
    }

    private void Forget()
    {
        _candidate = null;
        _challengeOwed = false;
        timers.Clear(TimerKind.PathValidation);
    }
}
