using System.Net;

namespace Tou.Relay;

/// <summary>A datagram the relay holds until its delivery time: where it leaves, where it goes, and its bytes (a pooled array).</summary>
internal readonly record struct Pending(RelayPort Via, SocketAddress To, byte[] Data, int Length);
