using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Tou.Protocol;

/// <summary>
/// Makes the 8-byte connection IDs an endpoint asks its peers to put on their packets, routable without state in the
/// way of QUIC-LB (draft-ietf-quic-load-balancers): byte 0 holds a 3-bit config code (0 routable, 7 unroutable) and 5
/// random bits; then the routing field, the configured server ID (<see cref="TouOptions.ConnectionIdServerIdLength"/>
/// bytes) and the listener shard (1 byte); the rest is a random nonce. With <see cref="TouOptions.ConnectionIdKey"/>
/// the routing field is masked by one AES block (ECB, no padding) computed over the nonce, so only holders of the key
/// (the load balancer, the shards) can read it; without a key it is in the clear. See docs/protocol.md §5.7.
/// </summary>
internal sealed class ConnectionIdGenerator : IDisposable
{
    /// <summary>Config code of IDs that carry routing information.</summary>
    public const int RoutableConfig = 0;

    /// <summary>Config code of IDs without routing information (QUIC-LB's reserved value).</summary>
    public const int UnroutableConfig = 7;

    private readonly TouOptions _options;
    private readonly int _serverIdLength;
    private readonly uint _serverId;
    private readonly Aes? _aes;

    public ConnectionIdGenerator(TouOptions options)
    {
        _options = options;
        _serverIdLength = options.ConnectionIdServerIdLength;
        _serverId = (uint)options.ConnectionIdServerId;
        if (options.ConnectionIdKey is { } key)
        {
            _aes = Aes.Create();
            _aes.Key = key;
        }
    }

    /// <summary>Bytes of the routing field: the server ID and the shard.</summary>
    private int RoutingLength => _serverIdLength + 1;

    /// <summary>A new ID for a connection of <paramref name="shard"/>; never 0.</summary>
    public ulong Create(byte shard)
    {
        Span<byte> id = stackalloc byte[8];
        do
        {
            _options.FillRandom(id);
            id[0] = (byte)((RoutableConfig << 5) | (id[0] & 0x1F));
            Span<byte> routing = id.Slice(1, RoutingLength);
            WriteServerId(routing[.._serverIdLength]);
            routing[_serverIdLength] = shard;
            Mask(id, routing);
        }
        while (BinaryPrimitives.ReadUInt64BigEndian(id) == 0);

        return BinaryPrimitives.ReadUInt64BigEndian(id);
    }

    /// <summary>Reads the server ID and shard of an ID made with the same settings; false for an unroutable ID.</summary>
    public bool TryDecode(ulong connectionId, out uint serverId, out byte shard)
    {
        Span<byte> id = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(id, connectionId);
        serverId = 0;
        shard = 0;
        if (id[0] >> 5 != RoutableConfig)
        {
            return false;
        }

        Span<byte> routing = id.Slice(1, RoutingLength);
        Mask(id, routing); // the mask is an XOR: applying it again unmasks
        for (int i = 0; i < _serverIdLength; i++)
        {
            serverId = (serverId << 8) | routing[i];
        }

        shard = routing[_serverIdLength];
        return true;
    }

    public void Dispose() => _aes?.Dispose();

    private void WriteServerId(Span<byte> destination)
    {
        for (int i = destination.Length - 1, v = (int)_serverId; i >= 0; i--, v >>= 8)
        {
            destination[i] = (byte)v;
        }
    }

    /// <summary>XORs the routing field with AES_K(config byte ‖ nonce ‖ zeros): a fresh pseudo-random mask per nonce.</summary>
    private void Mask(ReadOnlySpan<byte> id, Span<byte> routing)
    {
        if (_aes is null)
        {
            return;
        }

        Span<byte> block = stackalloc byte[16];
        block.Clear();
        block[0] = (byte)(id[0] & 0xE0);
        id[(1 + RoutingLength)..].CopyTo(block[1..]);
        Span<byte> mask = stackalloc byte[16];
        _aes.EncryptEcb(block, mask, PaddingMode.None);
        for (int i = 0; i < routing.Length; i++)
        {
            routing[i] ^= mask[i];
        }
    }
}
