using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Tou.Transport;

namespace Tou.Kestrel.Tests;

/// <summary>Reads the process-wide count of open TOU sockets, so it runs alone, after the parallel classes.</summary>
[CollectionDefinition(nameof(ForgottenConnectionTests), DisableParallelization = true)]
public sealed class ForgottenConnectionCollection;

/// <summary>
/// Client connections the application dropped without disposing them must not hold their UDP sockets
/// forever (a dropped <c>Socket</c> is closed by its finalizer; a dropped TOU connection must let go too).
/// </summary>
[Collection(nameof(ForgottenConnectionTests))]
public class ForgottenConnectionTests
{
    private const int Count = 100;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Client_connections_dropped_without_dispose_after_the_server_closed_them_release_their_sockets()
    {
        // The server closes each connection at once; its linger timeout is short so that a connection whose client
        // never answers is given up within the bound (the finalized client sends its FIN long before that).
        var listener = await TouWire.BindListenerAsync(o => o.Protocol.LingerTimeout = TimeSpan.FromSeconds(2));
        var serving = Task.Run(async () =>
        {
            while (await listener.AcceptAsync() is { } accepted)
            {
                await accepted.DisposeAsync();
            }
        });
        try
        {
            int baseline = TouSocketEndpoint.OpenEndpoints;
            var weak = await OpenReadToEndAndForgetAsync(listener.EndPoint, Count);

            // Poll (bounded in time and count) until the dropped connections' sockets are gone. Before the fix they never went.
            var clock = Stopwatch.StartNew();
            using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            for (int round = 0; round < 1000 && clock.Elapsed < Bound; round++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                if (TouSocketEndpoint.OpenEndpoints <= baseline)
                {
                    break;
                }

                await poll.WaitForNextTickAsync();
            }

            int leaked = TouSocketEndpoint.OpenEndpoints - baseline;
            int reachable = weak.Count(w => w.IsAlive);
            Assert.True(leaked <= 0, $"{leaked} of {Count} dropped connections still hold a UDP socket ({reachable} of the connection objects are still reachable)");
        }
        finally
        {
            await listener.UnbindAsync();
            await listener.DisposeAsync();
            await serving.WaitAsync(Bound);
        }
    }

    /// <summary>Opens <paramref name="count"/> connections, reads each to the server's end of stream and drops it
    /// undisposed. No strong reference outlives this frame.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<List<WeakReference>> OpenReadToEndAndForgetAsync(EndPoint server, int count)
    {
        var factory = new TouConnectionFactory();
        var weak = new List<WeakReference>(count);
        for (int i = 0; i < count; i++)
        {
            var connection = await factory.ConnectAsync(server).AsTask().WaitAsync(Bound);
            var (received, _) = await TouWire.ReadToEndAsync(connection.Transport.Input).WaitAsync(Bound);
            Assert.Equal(0, received); // the server closed without sending anything: a clean end of stream
            weak.Add(new WeakReference(connection));
        }

        return weak;
    }
}
