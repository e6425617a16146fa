namespace Tou.Protocol;

/// <summary>Why an incoming datagram was dropped.</summary>
internal enum DropReason
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
