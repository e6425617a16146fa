using Tou.Protocol.Tests.Harness;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Mechanisms;

/// <summary>
/// The RST an aborting side sends must carry the sequence number the peer expects next, in every state of
/// the close, so that the peer ends at once (<see cref="TouCloseReason.ResetByPeer"/>) rather than by a
/// timeout. The number counts our FIN once the peer has consumed it.
/// </summary>
/// <remarks>
/// Side A aborts, side B must notice. With <c>abortingHostGone</c> everything B sends after the abort is
/// lost (the aborting host shut down, as after <see cref="TouEndpoint.AbortAll"/>): B must then accept
/// the RST itself. Otherwise A's endpoint answers whatever B sends to the forgotten connection (a challenge
/// ACK, say) with an RST of its own, a second chance that hides a wrongly numbered first RST.
/// EnginePair's link has a 10 ms one-way delay: "promptly" is five round trips.
/// </remarks>
public class ResetNumberingTests : MechanismTestBase
{
    private const long RoundTripUs = 20_000;
    private const long PromptlyUs = 5 * RoundTripUs;

    /// <summary>Who aborts, whether its host is gone, and whether the keyed integrity trailer is on (a tagged RST
    /// is acceptable anywhere in the window; an untagged one only at the exact number, hence two RSTs while our FIN
    /// is unacknowledged).</summary>
    public static TheoryData<bool, bool, bool> Sides()
    {
        var data = new TheoryData<bool, bool, bool>();
        foreach (bool integrity in new[] { true, false })
        {
            data.Add(true, true, integrity);
            data.Add(true, false, integrity);
            data.Add(false, true, integrity);
            data.Add(false, false, integrity);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Sides))]
    public void Abort_while_established_resets_the_peer(bool clientAborts, bool abortingHostGone, bool integrity)
    {
        using var pair = NewPair(integrity);
        var (a, b) = Open(pair, clientAborts);

        AbortAndExpect(pair, a, b, abortingHostGone, TouCloseReason.ResetByPeer);
    }

    /// <summary>FIN-WAIT-1: our FIN reached the peer (it consumed it) but its acknowledgement has not come back.</summary>
    [Theory]
    [MemberData(nameof(Sides))]
    public void Abort_after_our_fin_reached_the_peer_but_before_its_ack_came_back_resets_the_peer(bool clientAborts, bool abortingHostGone, bool integrity)
    {
        using var pair = NewPair(integrity);
        var (a, b) = Open(pair, clientAborts);
        pair.Filter = p => p.ToServer == a.IsClient; // B's acknowledgement of the FIN never arrives

        a.CloseSend();
        pair.RunUntil(() => b.IsReadCompleted);
        Assert.False(a.IsWriteCompleted);
        Assert.Equal(TouConnectionState.Established, b.State);

        AbortAndExpect(pair, a, b, abortingHostGone, TouCloseReason.ResetByPeer);
    }

    /// <summary>FIN-WAIT-2: our FIN was acknowledged; the peer is still open.</summary>
    [Theory]
    [MemberData(nameof(Sides))]
    public void Abort_after_our_fin_was_acknowledged_resets_the_peer_that_is_still_open(bool clientAborts, bool abortingHostGone, bool integrity)
    {
        using var pair = NewPair(integrity);
        var (a, b) = Open(pair, clientAborts);

        a.CloseSend();
        pair.RunUntil(() => a.IsWriteCompleted && b.IsReadCompleted);
        Assert.Equal(TouConnectionState.Established, a.State);
        Assert.Equal(TouConnectionState.Established, b.State);

        AbortAndExpect(pair, a, b, abortingHostGone, TouCloseReason.ResetByPeer);
    }

    /// <summary>
    /// CLOSING: both sides write and close at the same moment, so the FINs cross; every pure ACK is lost, so
    /// neither FIN, nor the data just before it, is acknowledged. B cannot know that A got its data: a reset.
    /// </summary>
    [Theory]
    [MemberData(nameof(Sides))]
    public void Abort_while_both_fins_cross_unacknowledged_resets_a_peer_whose_data_is_unacknowledged(bool clientAborts, bool abortingHostGone, bool integrity)
    {
        using var pair = NewPair(integrity);
        var (a, b) = Open(pair, clientAborts);
        pair.Filter = p => !IsPureAck(p);

        a.Write(StreamApp.RandomPayload(21, 4000));
        b.Write(StreamApp.RandomPayload(22, 4000));
        a.CloseSend();
        b.CloseSend();
        pair.RunUntil(() => a.IsReadCompleted && b.IsReadCompleted);
        Assert.False(a.IsWriteCompleted);
        Assert.False(b.IsWriteCompleted);
        Assert.Equal(4000, b.UnacknowledgedBytes);

        AbortAndExpect(pair, a, b, abortingHostGone, TouCloseReason.ResetByPeer);
    }

    /// <summary>
    /// CLOSING with all of B's data acknowledged before the FINs crossed: only B's FIN lacks its ACK, so
    /// by docs/protocol.md §4 (TCP's LAST-ACK) an acceptable RST ends B gracefully — it had everything.
    /// </summary>
    [Theory]
    [MemberData(nameof(Sides))]
    public void Abort_while_both_fins_cross_unacknowledged_ends_a_peer_that_had_everything_gracefully(bool clientAborts, bool abortingHostGone, bool integrity)
    {
        using var pair = NewPair(integrity);
        var (a, b) = Open(pair, clientAborts);
        pair.Filter = p => !IsPureAck(p);

        a.CloseSend();
        b.CloseSend();
        pair.RunUntil(() => a.IsReadCompleted && b.IsReadCompleted);
        Assert.False(a.IsWriteCompleted);
        Assert.False(b.IsWriteCompleted);
        Assert.Equal(0, b.UnacknowledgedBytes);

        AbortAndExpect(pair, a, b, abortingHostGone, TouCloseReason.Graceful);
    }

    /// <summary>
    /// LAST-ACK: B closed first and A consumed (and acknowledged) its FIN; A's own FIN is sent but lost, so it
    /// is unacknowledged and B, in FIN-WAIT-2, still expects it: the RST must reset B all the same.
    /// </summary>
    /// <remarks>
    /// If A's FIN had arrived, B would have closed gracefully before any RST. A cannot tell this case (FIN
    /// lost, B expects the FIN's number) from FIN-WAIT-1 above (FIN consumed, B expects the number after it).
    /// </remarks>
    [Theory]
    [MemberData(nameof(Sides))]
    public void Abort_in_last_ack_when_our_fin_was_lost_resets_the_peer(bool clientAborts, bool abortingHostGone, bool integrity)
    {
        using var pair = NewPair(integrity);
        var (a, b) = Open(pair, clientAborts);

        b.CloseSend();
        pair.RunUntil(() => a.IsReadCompleted && b.IsWriteCompleted);
        pair.Filter = p => !(p.ToServer == a.IsClient && p.Header.Has(TouFlags.Fin));
        int before = pair.Trace.Count;
        a.CloseSend();
        pair.Pump();
        Assert.Contains(pair.Trace.Skip(before), p => p.ToServer == a.IsClient && p.Header.Has(TouFlags.Fin));
        Assert.Equal(TouConnectionState.Established, b.State);

        AbortAndExpect(pair, a, b, abortingHostGone, TouCloseReason.ResetByPeer);
    }

    /// <summary>
    /// The endpoint's recently-closed record (TIME-WAIT without the connection): the side that closed first
    /// has released its connection when the other side's FIN, whose ACK was lost, comes again; the record
    /// acknowledges it and the other side ends gracefully, long before it would give up retransmitting.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_retransmitted_fin_after_the_connection_was_released_is_acknowledged_from_the_recently_closed_record(bool clientClosesFirst)
    {
        using var pair = NewPair();
        var (a, b) = Open(pair, clientClosesFirst);
        var aEndpoint = clientClosesFirst ? pair.Client : pair.Server;

        a.CloseSend();
        pair.RunUntil(() => a.IsWriteCompleted && b.IsReadCompleted);

        // Nothing from A gets through while A still holds the connection (its lingering ACKs are lost too).
        pair.Filter = p => !(p.ToServer == a.IsClient && aEndpoint.ConnectionCount > 0);
        b.CloseSend();
        pair.RunUntil(() => a.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.Graceful, a.CloseReason);
        pair.RunUntil(() => aEndpoint.ConnectionCount == 0);
        Assert.Equal(TouConnectionState.Established, b.State);
        Assert.Equal(0, aEndpoint.Stats.LatePacketsAcknowledged);

        pair.RunUntil(() => b.State == TouConnectionState.Closed, maxDurationUs: 30_000_000);
        Assert.Equal(TouCloseReason.Graceful, b.CloseReason);
        Assert.True(b.IsWriteCompleted);
        Assert.True(aEndpoint.Stats.LatePacketsAcknowledged >= 1);
        Assert.True(b.Stats.Retransmissions >= 1, "B's FIN should have needed a retransmission");
        Assert.Equal(0, aEndpoint.ConnectionCount);
    }

    /// <summary>
    /// RFC 5961: an off-path attacker who guesses a sequence number inside the window but not the exact one
    /// (and has no valid integrity trailer to add) gets at most a challenge ACK per RST; nothing else is
    /// sent, the connection stays open, and a transfer afterwards is byte-exact.
    /// </summary>
    [Fact]
    public void Blind_rsts_in_the_window_but_off_the_edge_draw_at_most_challenge_acks_and_change_nothing()
    {
        const int RstsPerSide = 64;
        using var pair = NewPair();
        var (client, server) = Open(pair, clientIsA: true);
        var random = new Random(5961);

        long clientChallenges = client.Stats.ChallengeAcks, serverChallenges = server.Stats.ChallengeAcks;
        long clientResets = client.Stats.ResetsSent, serverResets = server.Stats.ResetsSent;
        long clientReceived = pair.Client.Stats.DatagramsReceived, serverReceived = pair.Server.Stats.DatagramsReceived;
        int traceBefore = pair.Trace.Count;
        uint serverEdge = NextSequence(pair, fromClient: true);
        uint clientEdge = NextSequence(pair, fromClient: false);
        for (int i = 0; i < RstsPerSide; i++)
        {
            // 1 .. ~3.9 MB past the exact edge: inside the 4 MiB window, never on the edge. Half carry a forged trailer.
            uint offset = 1 + (uint)(i * 61_403);
            int trailer = i % 2 == 0 ? 0 : 8;
            pair.Inject(toServer: true, BlindAttacker.Forge(TouFlags.Rst | TouFlags.Ack, serverEdge + offset, (uint)random.NextInt64(), fromClient: true, 0, random, trailer, window: 1000));
            pair.Inject(toServer: false, BlindAttacker.Forge(TouFlags.Rst | TouFlags.Ack, clientEdge + offset, (uint)random.NextInt64(), fromClient: false, 0, random, trailer, window: 1000));
        }

        pair.RunUntil(() => pair.Server.Stats.DatagramsReceived >= serverReceived + RstsPerSide && pair.Client.Stats.DatagramsReceived >= clientReceived + RstsPerSide);
        pair.Pump();

        Assert.Equal(TouConnectionState.Established, client.State);
        Assert.Equal(TouConnectionState.Established, server.State);
        Assert.InRange(client.Stats.ChallengeAcks - clientChallenges, 0, RstsPerSide);
        Assert.InRange(server.Stats.ChallengeAcks - serverChallenges, 0, RstsPerSide);
        Assert.Equal(clientResets, client.Stats.ResetsSent);
        Assert.Equal(serverResets, server.Stats.ResetsSent);
        var answers = pair.Trace.Skip(traceBefore).ToList();
        Assert.All(answers, p => Assert.True(IsPureAck(p), $"Only (challenge) ACKs may answer blind RSTs, not {p}"));
        Assert.InRange(answers.Count, 0, 2 * RstsPerSide);

        var (clientApp, serverApp) = Apps(client, server, 300_000, 300_000);
        CompleteAndVerify(pair, client, server, clientApp, serverApp);
    }

    /// <summary>Fixed initial sequence numbers (the client's wraps past 2^32 during the first exchange), so every run is the same.</summary>
    private static EnginePair NewPair(bool integrity = true) =>
        new(new TouOptions { IsnGenerator = () => 0xFFFF_C000, EnableIntegrity = integrity }, new TouOptions { IsnGenerator = () => 0x8000_1000, EnableIntegrity = integrity });

    /// <summary>Establishes, moves 30 kB each way (read by the application from then on) and returns (A, B).</summary>
    private static (TouConnection A, TouConnection B) Open(EnginePair pair, bool clientIsA)
    {
        var (client, server) = pair.Establish();
        var a = clientIsA ? client : server;
        var b = clientIsA ? server : client;
        var sink = new byte[65_536];
        long readA = 0, readB = 0;
        pair.Application = () =>
        {
            readA += ReadAll(a, sink);
            readB += ReadAll(b, sink);
        };
        Assert.Equal(30_000, a.Write(StreamApp.RandomPayload(1, 30_000)));
        Assert.Equal(30_000, b.Write(StreamApp.RandomPayload(2, 30_000)));
        pair.RunUntil(() => readA == 30_000 && readB == 30_000 && a.UnacknowledgedBytes == 0 && b.UnacknowledgedBytes == 0);
        return (a, b);
    }

    private static int ReadAll(TouConnection connection, byte[] sink)
    {
        int total = 0;
        while (connection.ReadableBytes > 0)
        {
            total += connection.Read(sink);
        }

        return total;
    }

    /// <summary>A aborts; B must end with <paramref name="expected"/> within a few round trips, not by a timeout.</summary>
    private static void AbortAndExpect(EnginePair pair, TouConnection a, TouConnection b, bool abortingHostGone, TouCloseReason expected)
    {
        int before = pair.Trace.Count;
        uint peerExpects = pair.Trace.Last(p => p.ToServer != a.IsClient && p.Header.Has(TouFlags.Ack)).Header.AcknowledgementNumber;
        var earlier = pair.Filter;
        pair.Filter = abortingHostGone
            ? p => p.ToServer == a.IsClient && (earlier is null || earlier(p)) // B's packets to A are lost from now on
            : null;

        long challenges = b.Stats.ChallengeAcks;
        a.Abort();
        Assert.Equal(TouCloseReason.Aborted, a.CloseReason);
        bool ended = RunAtMost(pair, PromptlyUs, () => b.State == TouConnectionState.Closed);

        var rsts = pair.Trace.Skip(before).Where(p => p.ToServer == a.IsClient && p.Header.Has(TouFlags.Rst)).ToList();
        Assert.NotEmpty(rsts);
        Assert.True(ended,
            $"The peer is still {b.State} {PromptlyUs / 1000} ms after the abort. RST seq {string.Join(", ", rsts.Select(p => p.Header.SequenceNumber))}; " +
            $"the peer last acknowledged {peerExpects}; it answered with {b.Stats.ChallengeAcks - challenges} challenge ACK(s). Last packets:\n{string.Join('\n', pair.Trace.TakeLast(8))}");
        Assert.Equal(expected, b.CloseReason);
        Assert.Equal(TouCloseReason.Aborted, a.CloseReason);
    }

    /// <summary>Steps until <paramref name="condition"/> holds; false if it did not within <paramref name="budgetUs"/> of virtual time.</summary>
    private static bool RunAtMost(EnginePair pair, long budgetUs, Func<bool> condition)
    {
        long end = pair.NowUs + budgetUs;
        for (int i = 0; i < 100_000; i++)
        {
            pair.Pump();
            if (condition())
            {
                return true;
            }

            if (!pair.Step() || pair.NowUs > end)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>An ACK without data or FIN (its payload, if any, is an option block such as SACK).</summary>
    private static bool IsPureAck(WirePacket p) =>
        (p.Header.Flags & ~TouFlags.Options) == TouFlags.Ack && (p.Header.PayloadLength == 0 || p.Header.Has(TouFlags.Options));

    /// <summary>The highest sequence number one side has reached after the handshake (its data and FIN counted).</summary>
    private static uint NextSequence(EnginePair pair, bool fromClient)
    {
        var next = new SequenceNumber(0);
        bool any = false;
        foreach (var p in pair.Trace.Where(p => p.ToServer == fromClient && !p.Header.Has(TouFlags.Syn)))
        {
            uint dataLength = p.Header.Has(TouFlags.Options) ? 0u : p.Header.PayloadLength;
            var end = new SequenceNumber(p.Header.SequenceNumber + dataLength + (p.Header.Has(TouFlags.Fin) ? 1u : 0u));
            next = any ? SequenceNumber.Max(next, end) : end;
            any = true;
        }

        Assert.True(any);
        return next.Value;
    }
}
