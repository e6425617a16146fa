using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>
/// Stateless handshakes (SYN cookies): the server's initial sequence number carries everything it must
/// remember — the negotiated extensions and a 64-second time slot — authenticated by 22 bits of
/// HMAC-SHA256 over the client's address and ISN under a per-endpoint random key. The client's ACK (or
/// first data) returns it as its acknowledgement number, which proves the client's address.
/// Layout (most significant first): MAC 22 bits | slot 3 | extended 1 | SACK 1 | integrity 1 | window shift 4 (15 = none).
/// The same key derives each connection's integrity keys, so a stateless server can recompute them.
/// </summary>
internal sealed class SynCookies
{
    /// <summary>Bytes of the secret key (<see cref="TouOptions.EndpointSecret"/>).</summary>
    public const int KeySize = 32;
    private const long SlotUs = 64_000_000;
    private readonly byte[] _key = new byte[KeySize];

    /// <param name="fillRandom">The source of the endpoint's secret key (<see cref="TouOptions.RandomSource"/>).</param>
    public SynCookies(Action<Span<byte>> fillRandom) => fillRandom(_key);

    /// <summary>The cookies of an endpoint with <paramref name="options"/>: under its shared secret when it has one
    /// (shards of one listening port), otherwise under a fresh random key.</summary>
    public static SynCookies For(TouOptions options) =>
        options.EndpointSecret is { } secret ? new SynCookies(key => secret.AsSpan().CopyTo(key)) : new SynCookies(options.FillRandom);

    public uint Create(long nowUs, SocketAddress client, uint clientIsn, in ExtensionSet agreed)
    {
        uint slot = (uint)(nowUs / SlotUs) & 7;
        uint options = Encode(agreed);
        return (Mac(client, clientIsn, slot, options) << 10) | (slot << 7) | options;
    }

    /// <summary>Checks a cookie returned in an ACK; on success gives back what was agreed.</summary>
    public bool TryValidate(long nowUs, SocketAddress client, uint clientIsn, uint cookie, out ExtensionSet agreed)
    {
        uint slot = (cookie >> 7) & 7;
        uint options = cookie & 0x7F;
        uint current = (uint)(nowUs / SlotUs) & 7;
        agreed = Decode(options);
        bool fresh = slot == current || slot == ((current + 7) & 7); // this slot or the previous one: 64–128 s
        return fresh && (cookie >> 10) == Mac(client, clientIsn, slot, options);
    }

    /// <summary>
    /// The integrity keys of the connection with <paramref name="client"/> whose ISNs are given: HMAC-SHA256 under
    /// the endpoint's key, so the stateful and the stateless handshake give the same keys and nothing is stored.
    /// </summary>
    public IntegrityKeys DeriveIntegrityKeys(SocketAddress client, uint clientIsn, uint serverIsn)
    {
        Span<byte> input = stackalloc byte[128 + 9];
        int n = Math.Min(client.Size, 128);
        client.Buffer.Span[..n].CopyTo(input);
        BinaryPrimitives.WriteUInt32BigEndian(input[n..], clientIsn);
        BinaryPrimitives.WriteUInt32BigEndian(input[(n + 4)..], serverIsn);
        input[n + 8] = 0x4B; // domain separation from the cookie MAC, whose input is 8 bytes after the address
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, input[..(n + 9)], mac);
        return IntegrityKeys.Read(mac[..IntegrityKeys.Size]);
    }

    private uint Mac(SocketAddress client, uint clientIsn, uint slot, uint options)
    {
        Span<byte> input = stackalloc byte[128 + 8];
        int n = Math.Min(client.Size, 128);
        client.Buffer.Span[..n].CopyTo(input);
        BinaryPrimitives.WriteUInt32BigEndian(input[n..], clientIsn);
        BinaryPrimitives.WriteUInt32BigEndian(input[(n + 4)..], (slot << 7) | options);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, input[..(n + 8)], mac);
        return BinaryPrimitives.ReadUInt32BigEndian(mac) >> 10; // 22 bits
    }

    private static uint Encode(in ExtensionSet agreed) =>
        (agreed.Extended ? 1u << 6 : 0) | (agreed.Sack ? 1u << 5 : 0) | (agreed.Integrity ? 1u << 4 : 0)
        | (agreed.WindowShift is >= 0 and <= Extensions.MaxWindowShift ? (uint)agreed.WindowShift : 15u);

    private static ExtensionSet Decode(uint options) => new()
    {
        Extended = (options & (1 << 6)) != 0,
        Sack = (options & (1 << 5)) != 0,
        Integrity = (options & (1 << 4)) != 0,
        WindowShift = (options & 15) == 15 ? -1 : (int)(options & 15),
    };
}
