using System.Collections.Concurrent;
using Tou.Transport;

namespace Tou.Kestrel;

/// <summary>
/// The sockets a factory opened that are not closed yet. A disposed TOU endpoint keeps its socket until the
/// connections the application closed have delivered their last bytes; a host that is about to exit drains them.
/// </summary>
internal sealed class SocketCloseTracker
{
    private readonly ConcurrentDictionary<TouSocketEndpoint, byte> _open = new();

    public void Track(TouSocketEndpoint endpoint)
    {
        if (_open.TryAdd(endpoint, 0))
        {
            _ = RemoveWhenClosedAsync(endpoint);
        }
    }

    private async Task RemoveWhenClosedAsync(TouSocketEndpoint endpoint)
    {
        await endpoint.Completion.ConfigureAwait(false);
        _open.TryRemove(endpoint, out _);
    }

    public int OpenCount => _open.Keys.Count(e => !e.Completion.IsCompleted);

    /// <summary>Drains every open socket (see <see cref="TouSocketEndpoint.DrainAsync"/>).</summary>
    public Task DrainAsync(CancellationToken cancellationToken) => Task.WhenAll(_open.Keys.Select(e => e.DrainAsync(cancellationToken)));
}
