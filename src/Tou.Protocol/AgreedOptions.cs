using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>
/// What a handshake offers and agrees, and every value derived from the agreement, computed in one place: this
/// side's offer, a server's acceptance, a client's reading of the answer, a SYN cookie's agreement, the window
/// shifts each side applies, the segment size, and the window, size and <c>mss</c> field of handshake packets.
/// </summary>
/// <param name="Agreed">The features on for the connection (WindowShift: ours, or -1 without scaling).</param>
/// <param name="SendShift">Shift applied to the windows the peer advertises (0 without scaling).</param>
/// <param name="ReceiveShift">Shift applied to the windows this side advertises (0 without scaling).</param>
internal readonly record struct AgreedOptions(ExtensionSet Agreed, int SendShift, int ReceiveShift)
{
    /// <summary>Nothing agreed: a plain (seed) connection, or one whose handshake has not finished.</summary>
    public static AgreedOptions Plain => new(ExtensionSet.Plain, 0, 0);

    /// <summary>What this side offers in its SYN.</summary>
    public static ExtensionSet Offer(TouOptions options)
    {
        var offer = ExtensionSet.Plain;
        if (options.EnableExtensions)
        {
            offer.Extended = true;
            offer.Sack = options.EnableSack;
            offer.Integrity = options.EnableIntegrity;
            offer.WindowShift = options.EnableWindowScaling ? LocalWindowShift(options) : -1;
            offer.PathMtuProbes = true; // every extended peer answers probes; whether it sends any is its own setting
        }

        return offer;
    }

    /// <summary>What a server accepts of a client's offer (the subset its SYN+ACK answers); WindowShift is the server's own.</summary>
    public static ExtensionSet Accept(TouOptions options, in ExtensionSet offer)
    {
        var agreed = ExtensionSet.Plain;
        if (!offer.Extended || !options.EnableExtensions)
        {
            return agreed;
        }

        agreed.Extended = true;
        agreed.Sack = offer.Sack && options.EnableSack;
        agreed.Integrity = offer.Integrity && options.EnableIntegrity;
        agreed.PathMtuProbes = offer.PathMtuProbes;
        if (offer.WindowShift >= 0 && options.EnableWindowScaling)
        {
            agreed.WindowShift = LocalWindowShift(options);
        }

        return agreed;
    }

    /// <summary>Server, stateful handshake: the agreement from the client's offer, with the keys the endpoint derived.</summary>
    public static AgreedOptions ForServer(TouOptions options, in ExtensionSet offer, in IntegrityKeys keys)
    {
        var agreed = Accept(options, offer);
        if (agreed.Integrity)
        {
            agreed.Keys = keys;
        }

        return agreed.WindowShift >= 0 ? new(agreed, offer.WindowShift, agreed.WindowShift) : new(agreed, 0, 0);
    }

    /// <summary>
    /// Server, stateless handshake: what the cookie remembered, whose WindowShift is the client's (-1 for none). The
    /// cookie has no room for PMTU_PROBES, so it is off until the client's first probe shows that it answers them too.
    /// </summary>
    public static AgreedOptions FromCookie(TouOptions options, in ExtensionSet cookie)
    {
        var agreed = cookie;
        agreed.PathMtuProbes = false;
        if (cookie.WindowShift < 0)
        {
            return new(agreed, 0, 0);
        }

        agreed.WindowShift = LocalWindowShift(options);
        return new(agreed, cookie.WindowShift, agreed.WindowShift);
    }

    /// <summary>Client: the server answers with the subset it accepts; what it accepts of our offer is what we agree on.</summary>
    public static AgreedOptions ForClient(TouOptions options, in ExtensionSet answer)
    {
        var local = Offer(options);
        var agreed = ExtensionSet.Plain;
        if (!answer.Extended || !local.Extended)
        {
            return new(agreed, 0, 0);
        }

        agreed.Extended = true;
        agreed.Sack = answer.Sack && local.Sack;
        agreed.PathMtuProbes = answer.PathMtuProbes && local.PathMtuProbes;
        if (answer.Integrity && local.Integrity && !answer.Keys.IsEmpty)
        {
            agreed.Integrity = true;
            agreed.Keys = answer.Keys;
        }

        if (answer.WindowShift >= 0 && local.WindowShift >= 0)
        {
            agreed.WindowShift = local.WindowShift;
            return new(agreed, answer.WindowShift, local.WindowShift);
        }

        return new(agreed, 0, 0);
    }

    /// <summary>The smallest shift that fits the receive buffer into the 16-bit window field.</summary>
    public static int LocalWindowShift(TouOptions options)
    {
        int shift = 0;
        while ((options.ReceiveBufferSize >> shift) > ushort.MaxValue && shift < Extensions.MaxWindowShift)
        {
            shift++;
        }

        return shift;
    }

    /// <summary>The largest payload this side accepts in one datagram: the <c>mss</c> field of everything it sends.</summary>
    public static int LocalMaxPayload(TouOptions options) => MssForDatagram(options.MaxDatagramSize);

    /// <summary>Data bytes per segment in datagrams of <paramref name="datagramSize"/> bytes (room for the trailer is always kept).</summary>
    public static int MssForDatagram(int datagramSize) => datagramSize - TouHeader.Size - Extensions.TrailerSize;

    /// <summary>The largest datagram the peer accepts, from the <c>mss</c> field it announces (at most 65,507).</summary>
    public static int PeerMaxDatagramSize(uint peerMss) => (int)Math.Min(peerMss + (long)TouHeader.Size + Extensions.TrailerSize, 65_507);

    /// <summary>The window of a SYN or SYN+ACK, which is never scaled.</summary>
    public static ushort HandshakeWindow(TouOptions options) => (ushort)Math.Min(options.ReceiveBufferSize, ushort.MaxValue);

    /// <summary>The largest SYN+ACK for an agreement (what the anti-amplification budget is charged).</summary>
    public static int SynAckSize(in ExtensionSet agreed) =>
        TouHeader.Size + (agreed.Extended ? Extensions.MaxOfferSize : 0) + (agreed.Integrity ? Extensions.TrailerSize : 0);

    /// <summary>
    /// Data bytes per segment this side starts sending: the peer's <c>mss</c>, our initial datagram size, and for a plain
    /// peer the seed's 1,024-byte receive buffer. Path MTU discovery may raise it later (<see cref="MssForDatagram"/>).
    /// </summary>
    public static int SendMss(TouOptions options, bool extended, uint peerMss)
    {
        long mss = Math.Min(peerMss, (uint)MssForDatagram(options.InitialDatagramSize));
        if (!extended)
        {
            mss = Math.Min(mss, TouConnection.SeedMaxDatagram - TouHeader.Size);
        }

        return (int)Math.Max(mss, 64);
    }
}
