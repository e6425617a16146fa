using System.Net;

namespace Tou.Protocol.Tests.Wireshark;

/// <summary>One UDP datagram of a capture: when it was sent, between which IPv4 endpoints, and its bytes.</summary>
internal sealed record CapturedDatagram(long TimeUs, IPEndPoint Source, IPEndPoint Destination, byte[] Payload);
