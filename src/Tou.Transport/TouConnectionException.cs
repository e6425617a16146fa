using System.Net.Sockets;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// A TOU connection ended abnormally (reset, aborted, timed out or refused). Its <see cref="Exception.InnerException"/>
/// is the <see cref="SocketException"/> a TCP socket would have thrown in the same situation, so retry and error
/// handling written for sockets recognises it (<c>exception.GetBaseException() is SocketException</c>):
/// <see cref="SocketError.ConnectionRefused"/> for <see cref="TouCloseReason.Refused"/>,
/// <see cref="SocketError.TimedOut"/> for the handshake, retransmission, idle and linger timeouts,
/// <see cref="SocketError.ConnectionReset"/> for a reset by the peer and <see cref="SocketError.ConnectionAborted"/>
/// for an abort.
/// </summary>
public sealed class TouConnectionException : IOException
{
    /// <summary>Creates the exception for a connection that ended with <paramref name="reason"/>, with the matching
    /// <see cref="SocketException"/> as its inner exception.</summary>
    /// <param name="reason">Why the connection ended.</param>
    /// <param name="message">What happened, for people.</param>
    public TouConnectionException(TouCloseReason reason, string message)
        : base(message, SocketErrorFor(reason) is { } error ? new SocketException((int)error) : null) => Reason = reason;

    /// <summary>Why the connection ended: reset, aborted, refused or a timeout.</summary>
    public TouCloseReason Reason { get; }

    /// <summary>The socket error a TCP connection reports for the same ending, or null for none.</summary>
    internal static SocketError? SocketErrorFor(TouCloseReason reason) => reason switch
    {
        TouCloseReason.Refused => SocketError.ConnectionRefused,
        TouCloseReason.HandshakeTimeout or TouCloseReason.RetransmissionTimeout or TouCloseReason.IdleTimeout or TouCloseReason.LingerTimeout => SocketError.TimedOut,
        TouCloseReason.ResetByPeer => SocketError.ConnectionReset,
        TouCloseReason.Aborted => SocketError.ConnectionAborted,
        _ => null,
    };
}
