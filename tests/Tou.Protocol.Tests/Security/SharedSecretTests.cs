using System.Net;
using System.Security.Cryptography;

namespace Tou.Protocol.Tests.Security;

/// <summary>
/// The shards of one listening port (SO_REUSEPORT) share <see cref="TouOptions.EndpointSecret"/>: a SYN cookie issued by
/// one endpoint validates on another holding the same secret, and the integrity keys both derive from it agree.
/// </summary>
public class SharedSecretTests
{
    private static readonly SocketAddress ClientAddress = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 40000).Serialize();
    private static readonly SocketAddress ServerAddress = new IPEndPoint(IPAddress.Parse("10.0.0.2"), 5000).Serialize();

    private static TouEndpoint Server(byte[] secret) =>
        new(new TouOptions { MaxPendingHandshakes = 0, EndpointSecret = secret }) { IsListening = true, LocalPort = 5000 };

    /// <summary>Hands every datagram <paramref name="from"/> has queued to <paramref name="to"/>.</summary>
    private static int Deliver(TouEndpoint from, TouEndpoint to, SocketAddress source, long nowUs)
    {
        var buffer = new byte[65_536];
        int count = 0;
        int n;
        while ((n = from.PollTransmit(nowUs, buffer, out _)) > 0)
        {
            to.HandleDatagram(nowUs, source, buffer.AsSpan(0, n));
            count++;
        }

        return count;
    }

    /// <summary>The client's SYN goes to <paramref name="issuer"/> (which answers with a cookie and keeps nothing); its
    /// ACK and first data go to <paramref name="other"/>.</summary>
    private static TouConnection HandshakeAcross(TouEndpoint client, TouEndpoint issuer, TouEndpoint other, byte[] firstData, long nowUs)
    {
        var connection = client.Connect(nowUs, ServerAddress);
        Assert.Equal(1, Deliver(client, issuer, ClientAddress, nowUs));
        Assert.Equal(1, issuer.Stats.SynCookiesSent);
        Assert.Equal(0, issuer.ConnectionCount);
        Deliver(issuer, client, ServerAddress, nowUs);
        Assert.Equal(TouConnectionState.Established, connection.State);
        Assert.Equal(firstData.Length, connection.Write(firstData));
        Deliver(client, other, ClientAddress, nowUs);
        return connection;
    }

    [Fact]
    public void A_cookie_from_one_endpoint_is_accepted_by_another_with_the_same_secret_and_data_flows_both_ways()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        using var client = new TouEndpoint(new TouOptions());
        using var issuer = Server(secret);
        using var other = Server(secret.ToArray());
        var upload = RandomNumberGenerator.GetBytes(20_000);
        var download = RandomNumberGenerator.GetBytes(30_000);
        long now = 1_000_000;

        var connection = HandshakeAcross(client, issuer, other, upload, now);
        Assert.Equal(1, other.Stats.SynCookiesAccepted);
        var accepted = other.Accept();
        Assert.NotNull(accepted);
        Assert.True(accepted.IntegrityNegotiated);
        Assert.Equal(download.Length, accepted.Write(download));

        // Pump both ways on a virtual clock until each side has read everything: the keyed trailers verify only if
        // both servers derived the same integrity keys from the shared secret.
        var atServer = new MemoryStream();
        var atClient = new MemoryStream();
        var buffer = new byte[65_536];
        for (int round = 0; round < 10_000 && (atServer.Length < upload.Length || atClient.Length < download.Length); round++)
        {
            now += 1_000;
            client.HandleTimeouts(now);
            other.HandleTimeouts(now);
            Deliver(client, other, ClientAddress, now);
            Deliver(other, client, ServerAddress, now);
            atServer.Write(buffer, 0, accepted.Read(buffer));
            atClient.Write(buffer, 0, connection.Read(buffer));
        }

        Assert.Equal(upload, atServer.ToArray());
        Assert.Equal(download, atClient.ToArray());
        Assert.Equal(0, other.Stats.DroppedIntegrity);
        Assert.Equal(0, connection.Stats.IntegrityFailures);
    }

    [Fact]
    public void A_cookie_is_refused_by_an_endpoint_with_another_secret()
    {
        using var client = new TouEndpoint(new TouOptions());
        using var issuer = Server(RandomNumberGenerator.GetBytes(32));
        using var stranger = Server(RandomNumberGenerator.GetBytes(32));

        HandshakeAcross(client, issuer, stranger, new byte[1000], 1_000_000);
        Assert.Equal(0, stranger.Stats.SynCookiesAccepted);
        Assert.Equal(0, stranger.ConnectionCount);
        Assert.Null(stranger.Accept());
    }

    [Fact]
    public void Endpoints_without_a_secret_draw_their_own_and_refuse_each_others_cookies()
    {
        using var client = new TouEndpoint(new TouOptions());
        using var issuer = new TouEndpoint(new TouOptions { MaxPendingHandshakes = 0 }) { IsListening = true };
        using var stranger = new TouEndpoint(new TouOptions { MaxPendingHandshakes = 0 }) { IsListening = true };

        HandshakeAcross(client, issuer, stranger, new byte[1000], 1_000_000);
        Assert.Equal(0, stranger.Stats.SynCookiesAccepted);
        Assert.Null(stranger.Accept());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(33)]
    public void A_secret_of_the_wrong_size_is_refused_by_name(int size)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new TouOptions { EndpointSecret = new byte[size] }.Validate());
        Assert.Contains(nameof(TouOptions.EndpointSecret), error.Message, StringComparison.Ordinal);
    }
}
