using System.Net.Sockets;
using Tou.Protocol;
using Tou.Transport;

namespace Tou.Tool;

/// <summary>Turns what a command threw into one line and an exit code, so scripts can tell failures apart.</summary>
internal static class ToolErrors
{
    public const int Failure = 1;
    public const int Usage = 2;
    public const int Refused = 3;
    public const int TimedOut = 4;
    public const int Unreachable = 5;
    public const int Interrupted = 130;

    public static (string Message, int ExitCode) Describe(Exception exception)
    {
        switch (exception)
        {
            case UsageException usage:
                return (usage.Message, Usage);
            case TouConnectionException { Reason: TouCloseReason.Refused }:
                return ("connection refused (nothing listens there)", Refused);
            case TouConnectionException { Reason: TouCloseReason.HandshakeTimeout }:
                return ("timed out: no answer to the handshake", TimedOut);
            case TouConnectionException tou:
                return ($"connection failed: {tou.Message}", Failure);
            case SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } socket:
                return ($"cannot resolve host: {socket.Message}", Unreachable);
            case SocketException { SocketErrorCode: SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.AddressNotAvailable } socket:
                return ($"unreachable: {socket.Message}", Unreachable);
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return ("connection refused (nothing listens there)", Refused);
            case SocketException { SocketErrorCode: SocketError.TimedOut }:
                return ("timed out", TimedOut);
            case TimeoutException or TaskCanceledException { InnerException: TimeoutException }:
                return ("timed out", TimedOut);
            case HttpRequestException { InnerException: { } inner }:
                return Describe(inner);
            case IOException { InnerException: { } inner }:
                return Describe(inner);
            case UnauthorizedAccessException or DirectoryNotFoundException or FileNotFoundException:
                return (exception.Message, Failure);
            default:
                return ($"{exception.GetType().Name}: {exception.Message}", Failure);
        }
    }
}
