using System.Buffers.Binary;

namespace Tou.Protocol.Wire;

/// <summary>
/// The seed's 21-byte TOU header, in network byte order. The payload follows it and is
/// <see cref="PayloadLength"/> bytes long; anything after the payload is ignored by the seed
/// (this implementation uses that room only for the negotiated checksum trailer).
/// </summary>
internal struct TouHeader : IEquatable<TouHeader>
{
    /// <summary>Size of the encoded header in bytes.</summary>
    public const int Size = 21;

    public ushort SourcePort;
    public ushort DestinationPort;
    public uint SequenceNumber;
    public uint AcknowledgementNumber;
    public TouFlags Flags;
    public ushort Window;
    public ushort PayloadLength;
    public uint Mss;

    public readonly bool Has(TouFlags flag) => (Flags & flag) == flag;

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public readonly void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A TOU header needs {Size} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], SequenceNumber);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], AcknowledgementNumber);
        destination[12] = (byte)Flags;
        BinaryPrimitives.WriteUInt16BigEndian(destination[13..], Window);
        BinaryPrimitives.WriteUInt16BigEndian(destination[15..], PayloadLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[17..], Mss);
    }

    /// <summary>
    /// Reads a header. Fails (without throwing) when the datagram is shorter than a header or than the
    /// payload length it announces. Flag validity is the caller's policy, not the codec's.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out TouHeader header)
    {
        if (datagram.Length < Size)
        {
            header = default;
            return false;
        }

        header = new TouHeader
        {
            SourcePort = BinaryPrimitives.ReadUInt16BigEndian(datagram),
            DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]),
            SequenceNumber = BinaryPrimitives.ReadUInt32BigEndian(datagram[4..]),
            AcknowledgementNumber = BinaryPrimitives.ReadUInt32BigEndian(datagram[8..]),
            Flags = (TouFlags)datagram[12],
            Window = BinaryPrimitives.ReadUInt16BigEndian(datagram[13..]),
            PayloadLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[15..]),
            Mss = BinaryPrimitives.ReadUInt32BigEndian(datagram[17..]),
        };
        return datagram.Length - Size >= header.PayloadLength;
    }

    public readonly bool Equals(TouHeader other) =>
        SourcePort == other.SourcePort && DestinationPort == other.DestinationPort &&
        SequenceNumber == other.SequenceNumber && AcknowledgementNumber == other.AcknowledgementNumber &&
        Flags == other.Flags && Window == other.Window && PayloadLength == other.PayloadLength && Mss == other.Mss;

    public override readonly bool Equals(object? obj) => obj is TouHeader other && Equals(other);

    public override readonly int GetHashCode() =>
        HashCode.Combine(SequenceNumber, AcknowledgementNumber, Flags, Window, PayloadLength, Mss, SourcePort, DestinationPort);

    public static bool operator ==(TouHeader left, TouHeader right) => left.Equals(right);

    public static bool operator !=(TouHeader left, TouHeader right) => !left.Equals(right);

    public override readonly string ToString() =>
        $"{FormatFlags(Flags)} seq={SequenceNumber} ack={AcknowledgementNumber} win={Window} len={PayloadLength} mss={Mss}";

    /// <summary>Flags as in the seed's traces: S, A, R, F, plus O (options) and P (ping); "-" for none.</summary>
    public static string FormatFlags(TouFlags flags)
    {
        if (flags == TouFlags.None)
        {
            return "-";
        }

        Span<char> chars = stackalloc char[8];
        int n = 0;
        if ((flags & TouFlags.Syn) != 0) chars[n++] = 'S';
        if ((flags & TouFlags.Ack) != 0) chars[n++] = 'A';
        if ((flags & TouFlags.Rst) != 0) chars[n++] = 'R';
        if ((flags & TouFlags.Fin) != 0) chars[n++] = 'F';
        if ((flags & TouFlags.Options) != 0) chars[n++] = 'O';
        if ((flags & TouFlags.Ping) != 0) chars[n++] = 'P';
        if ((flags & ~TouFlags.KnownMask) != 0) chars[n++] = '?';
        return new string(chars[..n]);
    }
}
