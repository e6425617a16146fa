using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests.Wire;

/// <summary>Properties of the header codec and the extension codec.</summary>
public class CodecProperties
{
    private static TouHeader Header(ushort sp, ushort dp, uint seq, uint ack, byte flags, ushort win, ushort len, uint mss) => new()
    {
        SourcePort = sp, DestinationPort = dp, SequenceNumber = seq, AcknowledgementNumber = ack,
        Flags = (TouFlags)flags, Window = win, PayloadLength = len, Mss = mss,
    };

    [Property(MaxTest = 500)]
    public bool Encode_then_decode_gives_the_same_header(ushort sp, ushort dp, uint seq, uint ack, byte flags, ushort win, ushort len, uint mss)
    {
        var header = Header(sp, dp, seq, ack, flags, win, len, mss);
        var bytes = new byte[TouHeader.Size + len];
        header.Write(bytes);
        return TouHeader.TryRead(bytes, out var decoded) && decoded == header;
    }

    [Property(MaxTest = 1000)]
    public bool Decoding_any_bytes_never_throws_and_succeeds_exactly_when_the_payload_fits(byte[] datagram)
    {
        bool ok = TouHeader.TryRead(datagram, out var header);
        bool expected = datagram.Length >= TouHeader.Size && datagram.Length - TouHeader.Size >= ((datagram[15] << 8) | datagram[16]);
        return ok == expected && (!ok || header.PayloadLength <= datagram.Length - TouHeader.Size);
    }

    [Property(MaxTest = 300)]
    public bool Bytes_after_the_payload_are_ignored(uint seq, ushort len, byte[] trailer)
    {
        var header = Header(1, 2, seq, 0, 0, 100, (ushort)(len % 100), 1024);
        var bytes = new byte[TouHeader.Size + header.PayloadLength + trailer.Length];
        header.Write(bytes);
        trailer.CopyTo(bytes, TouHeader.Size + header.PayloadLength);
        return TouHeader.TryRead(bytes, out var decoded) && decoded == header;
    }

    [Fact]
    public void Writing_into_a_short_span_is_a_caller_error() =>
        Assert.Throws<ArgumentException>(() => default(TouHeader).Write(new byte[TouHeader.Size - 1]));

    [Property(MaxTest = 300)]
    public bool Extension_offers_round_trip(bool sack, bool checksum, byte shift)
    {
        var offer = new ExtensionSet { Extended = true, Sack = sack, Integrity = checksum, WindowShift = shift % 15 };
        var buffer = new byte[64];
        int n = Extensions.WriteOffer(buffer, offer);
        var read = Extensions.ReadOffer(buffer.AsSpan(0, n));
        return read.Extended && read.Sack == sack && read.Integrity == checksum && read.WindowShift == offer.WindowShift;
    }

    [Property(MaxTest = 1000)]
    public bool Reading_any_offer_or_option_block_never_throws(byte[] payload)
    {
        var offer = Extensions.ReadOffer(payload);
        if (Extensions.TrySplitOptions(payload, out var options, out var data))
        {
            var sack = Extensions.FindSackBlocks(options);
            if (sack.Length % 8 != 0 || options.Length + data.Length + 1 != payload.Length)
            {
                return false;
            }
        }

        return offer.WindowShift <= Extensions.MaxWindowShift;
    }

    [Property(MaxTest = 300)]
    public bool The_checksum_detects_any_single_changed_byte(byte[] payload, int position, byte delta)
    {
        if (payload.Length > 1000 || delta == 0)
        {
            return true;
        }

        var datagram = new byte[TouHeader.Size + payload.Length + Extensions.TrailerSize];
        Header(1, 2, 3, 4, 4, 5, (ushort)payload.Length, 6).Write(datagram);
        payload.CopyTo(datagram, TouHeader.Size);
        int length = Extensions.AppendCrc(datagram, TouHeader.Size + payload.Length);
        bool intact = Extensions.VerifyCrc(datagram.AsSpan(0, length), payload.Length);
        datagram[(int)((uint)position % (uint)length)] ^= delta;
        return intact && !Extensions.VerifyCrc(datagram.AsSpan(0, length), payload.Length);
    }

    [Fact]
    public void Crc32c_matches_the_standard_check_value() =>
        Assert.Equal(0xE3069283u, Extensions.Crc32C("123456789"u8)); // RFC 3720 / iSCSI check value
}
