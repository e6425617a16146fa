using Tou.Protocol;

namespace Tou.Transport;

/// <summary>A TOU connection ended abnormally (reset, aborted, timed out or refused).</summary>
public sealed class TouConnectionException : IOException
{
    /// <summary>Creates the exception for a connection that ended with <paramref name="reason"/>.</summary>
    /// <param name="reason">Why the connection ended.</param>
    /// <param name="message">What happened, for people.</param>
    public TouConnectionException(TouCloseReason reason, string message)
        : base(message) => Reason = reason;

    /// <summary>Why the connection ended: reset, aborted, refused or a timeout.</summary>
    public TouCloseReason Reason { get; }
}
