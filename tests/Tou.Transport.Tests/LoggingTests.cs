using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Tou.Transport.Tests;

public class LoggingTests
{
    private sealed class CapturingProvider : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, int EventId, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Enqueue((category, logLevel, eventId.Id, formatter(state, exception)));
        }
    }

    [Fact]
    public async Task Connections_and_every_packet_are_logged_in_their_categories()
    {
        var provider = new CapturingProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Trace));
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), loggerFactory: loggerFactory, listen: true);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), loggerFactory: loggerFactory);
        var accept = server.AcceptAsync().AsTask();
        var connection = await client.ConnectAsync(server.LocalEndPoint).WaitAsync(TimeSpan.FromSeconds(30));
        var accepted = (await accept.WaitAsync(TimeSpan.FromSeconds(30)))!;
        connection.Abort(null);
        var closed = new TaskCompletionSource();
        accepted.Closed.Register(() => closed.TrySetResult());
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var protocol = provider.Entries.Where(e => e.Category == "Tou.Protocol").ToList();
        Assert.Contains(protocol, e => e.Level == LogLevel.Debug && e.Message.Contains("established", StringComparison.Ordinal));
        Assert.Contains(protocol, e => e.Level == LogLevel.Debug && e.Message.Contains("closed (ResetByPeer)", StringComparison.Ordinal));
        Assert.Contains(protocol, e => e.Level == LogLevel.Trace && e.Message.Contains("sent S seq=", StringComparison.Ordinal));
        Assert.Contains(protocol, e => e.Level == LogLevel.Trace && e.Message.Contains("received SA seq=", StringComparison.Ordinal) && e.Message.Contains("win=", StringComparison.Ordinal));
    }
}
