using System.Buffers.Binary;
using Tou.Protocol.Buffers;
using Tou.Protocol.Congestion;
using Tou.Protocol.Wire;

namespace Tou.Protocol;

/// <summary>Why an incoming datagram was dropped.</summary>
public enum DropReason
{
    Malformed,
    Integrity,
    OutOfWindow,
    Unexpected,
    OutOfOrderFull,
    UnknownConnection,
    ListenerFull,
    NotListening,
}
