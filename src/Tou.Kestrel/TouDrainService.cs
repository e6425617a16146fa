using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tou.Kestrel;

/// <summary>
/// Makes a stopping host wait, after Kestrel and every other service have stopped, until the TOU connections
/// the application closed have delivered their last bytes: unlike TCP's, TOU's lingering lives in the process, so
/// leaving at once would lose them. Bounded by the host's shutdown timeout; what is still lingering then is logged.
/// </summary>
internal sealed partial class TouDrainService(IServiceProvider services, ILogger<TouDrainService> logger) : IHostedLifecycleService
{
    private TouTransportFactory[]? _listeners;
    private TouConnectionFactory? _clients;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Finds the factories to drain now: a host stopped twice at once (a <c>WebApplicationFactory</c> stopping an app
    /// whose own <c>Run</c> stops and disposes it too) may have disposed its services by the time the second stop gets here.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listeners = services.GetServices<IConnectionListenerFactory>().OfType<TouTransportFactory>().ToArray();
        _clients = services.GetService<TouConnectionFactory>();
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var listeners = _listeners ?? [];
        var clients = _clients;
        try
        {
            await Task.WhenAll(listeners.Select(l => l.DrainAsync(cancellationToken)).Append(clients?.DrainAsync(cancellationToken) ?? Task.CompletedTask)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            int open = listeners.Sum(l => l.OpenSockets) + (clients?.OpenSockets ?? 0);
            LogStillLingering(logger, open);
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "The host's shutdown timeout ended while {Sockets} TOU sockets still had closed connections delivering their last bytes; those connections are lost with the process")]
    private static partial void LogStillLingering(ILogger logger, int sockets);
}
