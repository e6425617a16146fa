using System.Net;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>A packet the endpoint sends without a connection: an RST, a SYN cookie's SYN+ACK, a TIME-WAIT record's ACK.</summary>
internal readonly record struct ControlPacket(SocketAddress To, TouHeader Header, ControlTrailer Trailer, DirectionKey Key, ExtensionSet? Offer);
