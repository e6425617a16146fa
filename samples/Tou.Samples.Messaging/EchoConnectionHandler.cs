using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Tou.Samples.Messaging;

/// <summary>Server side: answers every message with the same bytes reversed, until the client closes.</summary>
public sealed partial class ReverseEchoConnectionHandler(ILogger<ReverseEchoConnectionHandler> logger) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        Log.Connected(logger, connection.ConnectionId, connection.RemoteEndPoint);
        var protocol = new LengthPrefixedProtocol(connection.Transport.Input, connection.Transport.Output);
        int count = 0;
        while (await protocol.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false) is { } message)
        {
            Array.Reverse(message);
            await protocol.WriteAsync(message, connection.ConnectionClosed).ConfigureAwait(false);
            count++;
        }

        Log.Finished(logger, connection.ConnectionId, count);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Connection {ConnectionId} from {Remote}")]
        public static partial void Connected(ILogger logger, string connectionId, System.Net.EndPoint? remote);

        [LoggerMessage(2, LogLevel.Information, "Connection {ConnectionId} done after {Count} messages")]
        public static partial void Finished(ILogger logger, string connectionId, int count);
    }
}
