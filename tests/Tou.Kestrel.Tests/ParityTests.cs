using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;

namespace Tou.Kestrel.Tests;

/// <summary>The same app answers the same way through TestHost's TestServer and over TOU.</summary>
public sealed class ParityTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private WebApplication _testHostApp = null!;
    private HttpClient _testHostClient = null!;
    private TouTestServer _tou = null!;
    private HttpClient _touClient = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        _testHostApp = builder.Build();
        ParityApp.Map(_testHostApp);
        await _testHostApp.StartAsync();
        _testHostClient = _testHostApp.GetTestClient();

        _tou = await TouTestServer.StartAsync(ParityApp.Map);
        _touClient = _tou.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _touClient.Dispose();
        await _tou.DisposeAsync();
        _testHostClient.Dispose();
        await _testHostApp.DisposeAsync();
    }

    private IEnumerable<(string Name, HttpClient Client)> Both() => [("TestServer", _testHostClient), ("TOU", _touClient)];

    [Fact]
    public async Task Plain_get_answers_alike()
    {
        foreach (var (name, client) in Both())
        {
            var response = await client.GetAsync("/hello").WaitAsync(Timeout);
            Assert.True(response.IsSuccessStatusCode, name);
            Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/missing").WaitAsync(Timeout)).StatusCode);
            var request = new HttpRequestMessage(HttpMethod.Get, "/headers?x=1");
            request.Headers.Add("X-Test", "tou");
            Assert.Equal("GET /headers?x=1 tou", await (await client.SendAsync(request).WaitAsync(Timeout)).Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8_000_000)]
    public async Task Uploads_arrive_byte_exact(int size)
    {
        var body = ParityApp.Bytes(7, size);
        string expected = $"{size}:{Convert.ToHexString(SHA256.HashData(body))}";
        foreach (var (name, client) in Both())
        {
            var response = await client.PostAsync("/upload", new ByteArrayContent(body)).WaitAsync(Timeout);
            Assert.Equal(expected, await response.Content.ReadAsStringAsync());
            _ = name;
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(12_000_000)]
    public async Task Downloads_arrive_byte_exact(int size)
    {
        var expected = SHA256.HashData(ParityApp.Bytes(size, size));
        foreach (var (_, client) in Both())
        {
            var data = await client.GetByteArrayAsync($"/download/{size}").WaitAsync(Timeout);
            Assert.Equal(expected, SHA256.HashData(data));
        }
    }

    [Fact]
    public async Task Streaming_responses_arrive_in_order()
    {
        var expected = string.Concat(Enumerable.Range(0, 200).Select(i => $"chunk {i}\n"));
        foreach (var (_, client) in Both())
        {
            using var response = await client.GetAsync("/stream/200", HttpCompletionOption.ResponseHeadersRead).WaitAsync(Timeout);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var lines = new StringBuilder();
            string? line;
            while ((line = await reader.ReadLineAsync().WaitAsync(Timeout)) is not null)
            {
                lines.Append(line).Append('\n');
            }

            Assert.Equal(expected, lines.ToString());
        }
    }

    [Fact]
    public async Task Many_concurrent_requests_all_succeed()
    {
        foreach (var (_, client) in Both())
        {
            var tasks = Enumerable.Range(0, 200).Select(async i =>
            {
                var data = await client.GetByteArrayAsync($"/download/{1000 + i}");
                return SHA256.HashData(data).SequenceEqual(SHA256.HashData(ParityApp.Bytes(1000 + i, 1000 + i)));
            });
            var results = await Task.WhenAll(tasks).WaitAsync(Timeout);
            Assert.All(results, Assert.True);
        }
    }

    [Fact]
    public async Task WebSockets_echo_over_both()
    {
        // TestServer has its own WebSocket client; over TOU the standard ClientWebSocket goes through the TOU handler.
        var testHostSocket = await _testHostApp.GetTestServer().CreateWebSocketClient().ConnectAsync(new Uri("ws://localhost/ws"), CancellationToken.None);
        using var touSocket = new ClientWebSocket();
        using var invoker = new HttpMessageInvoker(TouHttp.CreateHandler(_tou.ConnectionFactory));
        await touSocket.ConnectAsync(new Uri($"ws://{_tou.BaseAddress.Authority}/ws"), invoker, CancellationToken.None).WaitAsync(Timeout);

        foreach (var socket in new WebSocket[] { testHostSocket, touSocket })
        {
            var message = ParityApp.Bytes(3, 100_000);
            await socket.SendAsync(message, WebSocketMessageType.Binary, true, CancellationToken.None).WaitAsync(Timeout);
            var received = new MemoryStream();
            var buffer = new byte[16 * 1024];
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Timeout);
                received.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            Assert.Equal(message, received.ToArray());
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).WaitAsync(Timeout);
            Assert.Equal(WebSocketState.Closed, socket.State);
        }
    }

    [Fact]
    public async Task A_slow_reader_still_gets_every_byte()
    {
        const int size = 6_000_000;
        var expected = SHA256.HashData(ParityApp.Bytes(size, size));
        foreach (var (_, client) in Both())
        {
            using var response = await client.GetAsync($"/download/{size}", HttpCompletionOption.ResponseHeadersRead).WaitAsync(Timeout);
            await using var stream = await response.Content.ReadAsStreamAsync();
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[4096];
            int n, reads = 0;
            while ((n = await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeout)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                if (++reads % 64 == 0)
                {
                    await Task.Yield(); // let the sender run into the closed window now and then
                }
            }

            Assert.Equal(expected, hash.GetCurrentHash());
        }
    }
}
