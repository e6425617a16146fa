using Microsoft.AspNetCore.Connections;
using Tou.Protocol;
using Tou.Transport;

namespace Tou.Kestrel;

internal static class TouKestrelExceptions
{
    /// <summary>The exceptions Kestrel and its users expect from a socket transport, by why a TOU connection ended.</summary>
    public static Exception Create(TouCloseReason reason, string message) => reason switch
    {
        TouCloseReason.ResetByPeer or TouCloseReason.IdleTimeout or TouCloseReason.RetransmissionTimeout
            => new ConnectionResetException(message, new TouConnectionException(reason, message)),
        TouCloseReason.Aborted => new ConnectionAbortedException(message),
        _ => new TouConnectionException(reason, message),
    };

    public static TouTransportOptions WithKestrelExceptions(this TouTransportOptions options)
    {
        options.ExceptionFactory = Create;
        return options;
    }
}
