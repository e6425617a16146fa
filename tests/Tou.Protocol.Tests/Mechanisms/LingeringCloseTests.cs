using System.Security.Cryptography;
using Tou.Protocol.Tests.Harness;

namespace Tou.Protocol.Tests.Mechanisms;

/// <summary>
/// The application's close (<see cref="TouConnection.Close"/>) as TCP's: what was written is delivered in the
/// background, the give-up clock counts from the last progress, and a reader that went away is an RST.
/// </summary>
public class LingeringCloseTests : MechanismTestBase
{
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(2);

    [Fact]
    public void A_close_over_a_slow_reader_delivers_everything_though_it_takes_many_linger_timeouts()
    {
        // The receiver reads 8 KB every 50 ms: 1 MB takes about 6.5 s, three times the linger timeout, but the
        // sender makes progress all along, so the close must not give up.
        var options = new TouOptions { LingerTimeout = Linger, ReceiveBufferSize = 64 * 1024 };
        using var pair = new EnginePair(options, options);
        var (client, server) = pair.Establish();
        var payload = StreamApp.RandomPayload(3, 1_000_000);
        var reader = new StreamApp(server, [], closeWhenDone: false) { MaxReadPerCall = 8192 };
        long nextRead = pair.NowUs;
        // (The harness only steps time on network events, so once everything is acknowledged the reader drains at once.)
        reader.ReadGate = () => client.IsWriteCompleted || (pair.NowUs >= nextRead && (nextRead = pair.NowUs + 50_000) > 0);
        int written = 0;
        bool closed = false;
        long closedAtUs = 0;
        pair.Application = () =>
        {
            if (client.State == TouConnectionState.Established && written < payload.Length)
            {
                written += client.Write(payload.AsSpan(written));
            }

            if (written == payload.Length && !closed)
            {
                closed = true;
                closedAtUs = pair.NowUs;
                client.Close(pair.NowUs); // the application is gone; the host hands over nothing more
                client.CloseSend();
            }

            reader.MaxReadPerCall = client.IsWriteCompleted ? int.MaxValue : 8192;
            reader.Run();
            if (reader.ReceiveCompleted && server.State == TouConnectionState.Established)
            {
                server.CloseSend();
            }
        };

        pair.RunUntil(() => client.State == TouConnectionState.Closed && server.State == TouConnectionState.Closed, maxDurationUs: 60_000_000);
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);
        Assert.Equal(SHA256.HashData(payload), reader.ReceivedHash());
        Assert.True(pair.NowUs - closedAtUs > 2 * TouTime.FromTimeSpan(Linger), "the test must outlast the linger timeout to mean anything");
    }

    [Fact]
    public void A_close_gives_up_after_the_linger_timeout_without_progress_and_resets_the_peer()
    {
        var options = new TouOptions { LingerTimeout = Linger, ReceiveBufferSize = 64 * 1024 };
        using var pair = new EnginePair(options, options);
        var (client, server) = pair.Establish();
        client.Write(new byte[200_000]); // more than the peer's window: the rest waits for a reader that never comes
        pair.RunUntil(() => client.UnacknowledgedBytes > 0 && server.ReadableBytes >= 60_000);
        client.Close(pair.NowUs);
        client.CloseSend();

        pair.RunUntil(() => client.State == TouConnectionState.Closed && server.State == TouConnectionState.Closed, maxDurationUs: 30_000_000);
        Assert.Equal(TouCloseReason.LingerTimeout, client.CloseReason);
        Assert.Equal(TouCloseReason.ResetByPeer, server.CloseReason);
        Assert.True(client.Stats.ZeroWindowProbes > 0, "the peer kept answering probes: only the linger timeout could end this");
    }

    [Fact]
    public void A_close_with_unread_data_resets_the_peer_at_once()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        server.Write(new byte[10_000]);
        pair.RunUntil(() => client.ReadableBytes == 10_000);

        client.Close(pair.NowUs);
        Assert.Equal(TouCloseReason.Aborted, client.CloseReason);
        Assert.Equal(1, client.Stats.ResetsForUnreadData);
        pair.RunUntil(() => server.State == TouConnectionState.Closed, maxDurationUs: 100_000);
        Assert.Equal(TouCloseReason.ResetByPeer, server.CloseReason);
    }

    [Fact]
    public void Data_arriving_after_the_close_resets_the_peer_whose_writes_then_fail()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        client.Close(pair.NowUs);
        client.CloseSend();
        pair.RunUntil(() => server.IsReadCompleted); // the client's FIN arrived: the server only sees a half-close

        server.Write(new byte[5_000]);
        pair.RunUntil(() => server.State == TouConnectionState.Closed, maxDurationUs: 200_000);
        Assert.Equal(TouCloseReason.ResetByPeer, server.CloseReason);
        Assert.Equal(TouCloseReason.Aborted, client.CloseReason);
        Assert.Equal(1, client.Stats.ResetsForUnreadData);
        Assert.Throws<InvalidOperationException>(() => server.Write(new byte[1]));
    }

    [Fact]
    public void A_close_after_reading_everything_ends_gracefully_when_the_peer_closes_too()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        var payload = StreamApp.RandomPayload(8, 300_000);
        var serverApp = new StreamApp(server, [], closeWhenDone: false);
        client.Write(payload);
        client.Close(pair.NowUs);
        client.CloseSend();
        pair.Application = () =>
        {
            serverApp.Run();
            if (serverApp.ReceiveCompleted && server.State == TouConnectionState.Established)
            {
                server.CloseSend();
            }
        };

        pair.RunUntil(() => client.State == TouConnectionState.Closed && server.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);
        Assert.Equal(SHA256.HashData(payload), serverApp.ReceivedHash());
    }

    [Fact]
    public void Shutdown_aborts_a_connection_the_application_still_holds_and_stops_listening()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        server.Write(new byte[50_000]);

        pair.Server.Shutdown();
        Assert.Equal(TouCloseReason.Aborted, server.CloseReason);
        Assert.False(pair.Server.IsListening);
        pair.RunUntil(() => client.State == TouConnectionState.Closed, maxDurationUs: 100_000);
        Assert.Equal(TouCloseReason.ResetByPeer, client.CloseReason);
        Assert.True(pair.Server.IsDrained);
    }

    [Fact]
    public void Shutdown_lets_a_connection_the_application_closed_deliver_everything()
    {
        using var pair = new EnginePair();
        var (client, server) = pair.Establish();
        var payload = StreamApp.RandomPayload(9, 2_000_000);
        int written = server.Write(payload);
        server.Close(pair.NowUs);

        pair.Server.Shutdown();
        Assert.Equal(TouCloseReason.None, server.CloseReason);
        Assert.False(pair.Server.IsDelivered);
        var clientApp = new StreamApp(client, [], closeWhenDone: false);
        bool finQueued = false;
        pair.Application = () =>
        {
            if (!finQueued && written < payload.Length)
            {
                written += server.Write(payload.AsSpan(written)); // the host hands over the rest the application wrote
            }
            else if (!finQueued)
            {
                finQueued = true;
                server.CloseSend();
            }

            clientApp.Run();
        };

        pair.RunUntil(() => pair.Server.IsDelivered);
        Assert.True(server.IsWriteCompleted);
        Assert.False(pair.Server.IsDrained); // it still waits for the client's FIN
        pair.RunUntil(() => clientApp.ReceiveCompleted);
        Assert.Equal(SHA256.HashData(payload), clientApp.ReceivedHash());
        client.CloseSend();
        pair.RunUntil(() => pair.Server.IsDrained && client.State == TouConnectionState.Closed);
        Assert.Equal(TouCloseReason.Graceful, server.CloseReason);
        Assert.Equal(TouCloseReason.Graceful, client.CloseReason);
    }
}
