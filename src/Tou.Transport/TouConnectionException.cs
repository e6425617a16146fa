using Tou.Protocol;

namespace Tou.Transport;

/// <summary>A TOU connection ended abnormally (reset, aborted, timed out or refused).</summary>
public sealed class TouConnectionException : IOException
{
    public TouConnectionException(TouCloseReason reason, string message)
        : base(message) => Reason = reason;

    public TouCloseReason Reason { get; }
}
