using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wireshark;

/// <summary>
/// What the dissector must show for each packet of a capture, decoded with the project's own codecs
/// (<see cref="TouHeader"/>, <see cref="Extensions"/>, <see cref="PathMtuOptions"/>, <see cref="IntegrityKeys"/>)
/// and docs/protocol.md's rules: one (field, value) per field present, multiple occurrences joined by commas as
/// tshark's <c>-E occurrence=a -E aggregator=,</c> prints them. Numbers are decimal, bytes lowercase hex,
/// booleans 0/1. Sequence analysis is TCP's: per conversation, relative to each direction's initial sequence number.
/// </summary>
internal sealed class ExpectedFields
{
    /// <summary>Every field the dissector registers; build/check-dissector.sh compares all of them and checks the list is complete.</summary>
    public static readonly string[] All =
    [
        "tou.srcport", "tou.dstport", "tou.seq", "tou.ack", "tou.flags", "tou.flags.fin", "tou.flags.rst", "tou.flags.ack",
        "tou.flags.syn", "tou.flags.opt", "tou.flags.ping", "tou.flags.reserved", "tou.window", "tou.payload_len", "tou.mss",
        "tou.stream", "tou.rel_seq", "tou.rel_ack", "tou.offer.magic", "tou.offer.version", "tou.options.len",
        "tou.option.type", "tou.option.len", "tou.option.wscale", "tou.option.integrity.secret", "tou.option.value",
        "tou.sack.left", "tou.sack.right", "tou.sack.rel_left", "tou.sack.rel_right", "tou.option.ack_delay",
        "tou.option.probe.token", "tou.option.probe_echo.token", "tou.padding_len", "tou.data", "tou.len",
        "tou.trailer", "tou.trailer.kind", "tou.trailer.status", "tou.extra", "tou.option.connection_id",
        "tou.option.path_challenge", "tou.option.path_response", "tou.cid",
    ];

    private readonly Dictionary<string, Conversation> _conversations = new();
    private int _streams;

    /// <summary>The fields of the next packet in capture order, as (field, value) in <see cref="All"/>'s order.</summary>
    public IReadOnlyList<(string Field, string Value)> Next(CapturedDatagram datagram)
    {
        var values = new Dictionary<string, List<string>>();
        void Add(string field, object value) =>
            (values.TryGetValue(field, out var list) ? list : values[field] = []).Add(Convert.ToString(value, CultureInfo.InvariantCulture)!);

        byte[] bytes = datagram.Payload;
        Assert.True(bytes.Length >= TouHeader.Size, "every captured datagram holds a header");
        TouHeader.TryRead(bytes, out var header);
        var flags = header.Flags;
        Add("tou.srcport", header.SourcePort);
        Add("tou.dstport", header.DestinationPort);
        Add("tou.seq", header.SequenceNumber);
        Add("tou.ack", header.AcknowledgementNumber);
        Add("tou.flags", (byte)flags);
        foreach (var (name, flag) in new[] { ("fin", TouFlags.Fin), ("rst", TouFlags.Rst), ("ack", TouFlags.Ack), ("syn", TouFlags.Syn), ("opt", TouFlags.Options), ("ping", TouFlags.Ping) })
        {
            Add("tou.flags." + name, header.Has(flag) ? 1 : 0);
        }

        Add("tou.flags.reserved", (byte)flags >> 6);
        Add("tou.window", header.Window);
        Add("tou.payload_len", header.PayloadLength);
        Add("tou.mss", header.Mss);

        int payloadLength = Math.Min(header.PayloadLength, bytes.Length - TouHeader.Size);
        var payload = bytes.AsSpan(TouHeader.Size, payloadLength);
        var (conversation, self, peer) = Track(datagram, header, payload);
        Add("tou.stream", conversation.Stream);
        Add("tou.rel_seq", header.SequenceNumber - conversation.Base[self]);
        uint? peerBase = conversation.Base.TryGetValue(peer, out uint b) ? b : null;
        if (peerBase is uint pb)
        {
            Add("tou.rel_ack", header.AcknowledgementNumber - pb);
        }

        Add("tou.len", Payload(payload, flags, peerBase, Add));
        int extra = bytes.Length - TouHeader.Size - payloadLength;
        if (extra == Extensions.TrailerSize || (extra == ConnectionIdOptions.TrailerSize && !header.Has(TouFlags.Syn)))
        {
            Trailer(bytes, payloadLength, header, conversation.Keys.GetValueOrDefault(self), Add);
        }
        else if (extra > 0)
        {
            Add("tou.extra", Hex(bytes.AsSpan(TouHeader.Size + payloadLength)));
        }

        return All.Where(values.ContainsKey).Select(f => (f, string.Join(',', values[f]))).ToList();
    }

    private (Conversation Conversation, string Self, string Peer) Track(CapturedDatagram datagram, TouHeader header, ReadOnlySpan<byte> payload)
    {
        string self = datagram.Source.ToString(), peer = datagram.Destination.ToString();
        string key = string.CompareOrdinal(self, peer) < 0 ? self + "|" + peer : peer + "|" + self;
        bool synOnly = (header.Flags & (TouFlags.Syn | TouFlags.Ack)) == TouFlags.Syn;
        if (!_conversations.TryGetValue(key, out var conversation) ||
            (synOnly && conversation.Base.TryGetValue(self, out uint isn) && isn != header.SequenceNumber))
        {
            // A new SYN (another ISN) between the same addresses is a new connection.
            _conversations[key] = conversation = new Conversation(_streams++);
        }

        if (header.Has(TouFlags.Syn) || !conversation.Base.ContainsKey(self))
        {
            conversation.Base[self] = header.SequenceNumber;
        }

        if (header.Has(TouFlags.Syn | TouFlags.Ack) && Extensions.ReadOffer(payload) is { Extended: true, Integrity: true } offer && !offer.Keys.IsEmpty)
        {
            // The SYN+ACK comes from the server.
            conversation.Keys[self] = offer.Keys.ForSending(isClient: false);
            conversation.Keys[peer] = offer.Keys.ForSending(isClient: true);
        }

        return (conversation, self, peer);
    }

    /// <summary>Adds the payload's fields; returns the number of data bytes (not offer, option block or probe padding).</summary>
    private static int Payload(ReadOnlySpan<byte> payload, TouFlags flags, uint? peerBase, Action<string, object> add)
    {
        if (payload.IsEmpty)
        {
            return 0;
        }

        if ((flags & TouFlags.Syn) != 0 && Extensions.ReadOffer(payload).Extended)
        {
            add("tou.offer.magic", Encoding.ASCII.GetString(payload[..3]));
            add("tou.offer.version", payload[3]);
            Tlvs(payload[4..], block: false, peerBase, add);
            return 0;
        }

        if ((flags & TouFlags.Options) != 0)
        {
            add("tou.options.len", payload[0]);
            if (!Extensions.TrySplitOptions(payload, out var options, out var data))
            {
                return 0;
            }

            Tlvs(options, block: true, peerBase, add);
            if (PathMtuOptions.TryReadProbe(options, out _))
            {
                add("tou.padding_len", data.Length);
                return 0;
            }

            payload = data;
        }

        if (!payload.IsEmpty)
        {
            add("tou.data", Hex(payload));
        }

        return payload.Length;
    }

    private static void Tlvs(ReadOnlySpan<byte> tlvs, bool block, uint? peerBase, Action<string, object> add)
    {
        while (tlvs.Length >= 2)
        {
            byte type = tlvs[0];
            int length = tlvs[1];
            add("tou.option.type", type);
            Assert.True(tlvs.Length >= 2 + length, "the capture holds no malformed TLVs");
            add("tou.option.len", length);
            var value = tlvs.Slice(2, length);
            if (type == Extensions.TlvWindowScale && length == 1)
            {
                add("tou.option.wscale", value[0]);
            }
            else if (type == Extensions.TlvIntegrity && length == IntegrityKeys.Size)
            {
                add("tou.option.integrity.secret", Hex(value));
            }
            else if (block && type == Extensions.TlvSack && length % 8 == 0)
            {
                Sack(value, peerBase, add);
            }
            else if (!block && type == ConnectionIdOptions.TlvConnectionId && length == ConnectionIdOptions.IdSize)
            {
                add("tou.option.connection_id", Hex(value));
            }
            else if (block && length == 8 && type is ConnectionIdOptions.TlvPathChallenge or ConnectionIdOptions.TlvPathResponse)
            {
                add(type == ConnectionIdOptions.TlvPathChallenge ? "tou.option.path_challenge" : "tou.option.path_response", Hex(value));
            }
            else if (block && length == 4 && type is Extensions.TlvAckDelay or PathMtuOptions.TlvProbe or PathMtuOptions.TlvProbeEcho)
            {
                string field = type switch { Extensions.TlvAckDelay => "tou.option.ack_delay", PathMtuOptions.TlvProbe => "tou.option.probe.token", _ => "tou.option.probe_echo.token" };
                add(field, BinaryPrimitives.ReadUInt32BigEndian(value));
            }
            else if (length > 0)
            {
                add("tou.option.value", Hex(value));
            }

            tlvs = tlvs[(2 + length)..];
        }
    }

    private static void Sack(ReadOnlySpan<byte> blocks, uint? peerBase, Action<string, object> add)
    {
        Assert.Equal(blocks.Length, Extensions.FindSackBlocks([Extensions.TlvSack, (byte)blocks.Length, .. blocks]).Length);
        for (int i = 0; i < blocks.Length; i += 8)
        {
            uint left = BinaryPrimitives.ReadUInt32BigEndian(blocks[i..]), right = BinaryPrimitives.ReadUInt32BigEndian(blocks[(i + 4)..]);
            add("tou.sack.left", left);
            add("tou.sack.right", right);
            if (peerBase is uint b)
            {
                add("tou.sack.rel_left", left - b);
                add("tou.sack.rel_right", right - b);
            }
        }
    }

    private static void Trailer(byte[] bytes, int payloadLength, TouHeader header, DirectionKey key, Action<string, object> add)
    {
        bool withId = ConnectionIdOptions.TryReadId(bytes, payloadLength, out ulong id);
        if (withId)
        {
            add("tou.cid", Hex(bytes.AsSpan(TouHeader.Size + payloadLength, ConnectionIdOptions.IdSize)));
        }

        add("tou.trailer", BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bytes.Length - Extensions.TrailerSize)));
        bool syn = header.Has(TouFlags.Syn);
        add("tou.trailer.kind", syn ? 1 : withId ? 3 : 2);
        bool? good = syn ? Extensions.VerifyCrc(bytes, payloadLength)
            : key.IsEmpty ? null
            : withId ? ConnectionIdOptions.VerifyIdAndTag(bytes, payloadLength, id, key) : Extensions.VerifyTag(bytes, payloadLength, key);
        add("tou.trailer.status", good switch { null => 0, true => 1, false => 2 });
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    private sealed class Conversation(int stream)
    {
        public int Stream { get; } = stream;

        public Dictionary<string, uint> Base { get; } = new();

        public Dictionary<string, DirectionKey> Keys { get; } = new();
    }
}
