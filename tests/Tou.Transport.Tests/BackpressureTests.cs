using System.Net;
using System.Security.Cryptography;

namespace Tou.Transport.Tests;

public class BackpressureTests
{
    [Fact]
    public async Task A_peer_that_does_not_read_makes_the_writers_flush_wait_and_nothing_is_lost()
    {
        await using var server = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: true);
        await using var client = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var accept = server.AcceptAsync().AsTask();
        var writer = await client.ConnectAsync(server.LocalEndPoint).WaitAsync(TimeSpan.FromSeconds(30));
        var reader = (await accept.WaitAsync(TimeSpan.FromSeconds(30)))!;

        // Far more than every buffer on the way together (pipes 1 MiB each, engine buffers 4 MiB each).
        var payload = RandomNumberGenerator.GetBytes(64 * 1024 * 1024);
        var writing = Task.Run(async () =>
        {
            for (int offset = 0; offset < payload.Length; offset += 256 * 1024)
            {
                await writer.Transport.Output.WriteAsync(payload.AsMemory(offset, 256 * 1024));
            }

            await writer.Transport.Output.CompleteAsync();
        });

        // The reader looks without consuming until its pipe holds its pause threshold: the window is closing.
        var input = reader.Transport.Input;
        while (true)
        {
            var peek = await input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            input.AdvanceTo(peek.Buffer.Start, peek.Buffer.End);
            if (peek.Buffer.Length >= 1024 * 1024)
            {
                break;
            }
        }

        Assert.False(writing.IsCompleted, "64 MiB cannot have been flushed while the peer reads nothing");

        // Now read everything: the writer resumes and every byte arrives in order.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        while (true)
        {
            var r = await input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            foreach (var segment in r.Buffer)
            {
                hash.AppendData(segment.Span);
            }

            input.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                break;
            }
        }

        await writing.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(SHA256.HashData(payload), hash.GetCurrentHash());
    }
}
