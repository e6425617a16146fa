using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using Tou.Transport;

namespace Tou.Kestrel.Tests;

/// <summary>
/// Helpers for the real-socket regression tests: a trivial "send me N bytes" protocol, hashing readers and
/// bounded cleanup. Nothing here waits on time except the bounds it is given.
/// </summary>
internal static class TouWire
{
    public const int Chunk = 64 * 1024;

    /// <summary>Deterministic pseudo-random content (the same seed and length give the same bytes).</summary>
    public static byte[] Payload(int length) => ParityApp.Bytes(length, length);

    /// <summary>The request of the trivial protocol: the number of bytes wanted, 4 bytes little-endian.</summary>
    public static async Task RequestAsync(ConnectionContext connection, int length)
    {
        var request = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(request, length);
        var flush = await connection.Transport.Output.WriteAsync(request);
        Assert.False(flush.IsCompleted, "the server stopped reading before the request was sent");
    }

    /// <summary>The server side of the trivial protocol: reads the 4-byte length.</summary>
    public static async Task<int> ReadRequestAsync(PipeReader input)
    {
        while (true)
        {
            var result = await input.ReadAsync();
            if (result.Buffer.Length >= 4)
            {
                var head = new byte[4];
                result.Buffer.Slice(0, 4).CopyTo(head);
                input.AdvanceTo(result.Buffer.GetPosition(4));
                return BinaryPrimitives.ReadInt32LittleEndian(head);
            }

            if (result.IsCompleted)
            {
                throw new InvalidOperationException("The client closed before sending its request.");
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>Writes <paramref name="data"/> in chunks; false if the reader went away (the pipe completed) before the end.</summary>
    public static async Task<bool> WriteAllAsync(PipeWriter output, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        for (int offset = 0; offset < data.Length; offset += Chunk)
        {
            var flush = await output.WriteAsync(data.Slice(offset, Math.Min(Chunk, data.Length - offset)), cancellationToken);
            if (flush.IsCompleted)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Reads to the end of the stream: how many bytes came and their SHA-256. Throws what the read throws (a reset, say).</summary>
    public static async Task<(long Length, string Sha256)> ReadToEndAsync(PipeReader input, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                hash.AppendData(segment.Span);
                total += segment.Length;
            }

            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return (total, Convert.ToHexString(hash.GetHashAndReset()));
            }
        }
    }

    public static async Task<(long Length, string Sha256)> ReadToEndAsync(Stream input, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[Chunk];
        long total = 0;
        int n;
        while ((n = await input.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        return (total, Convert.ToHexString(hash.GetHashAndReset()));
    }

    public static string Sha256(byte[] data) => Convert.ToHexString(SHA256.HashData(data));

    /// <summary>A listener used directly, as Bedrock does: the transport factory's BindAsync on a loopback port.</summary>
    public static async Task<IConnectionListener> BindListenerAsync(Action<TouTransportOptions>? configure = null)
    {
        var options = new TouTransportOptions();
        configure?.Invoke(options);
        var factory = new TouTransportFactory(Options.Create(options));
        return await factory.BindAsync(new TouEndPoint(IPAddress.Loopback, 0));
    }

    /// <summary>
    /// A Kestrel app whose connection handler reads a length, writes that many bytes and returns (Kestrel then
    /// closes the connection); <paramref name="handlerReturned"/> completes when it has, or fails with its error.
    /// </summary>
    public static Task<TouTestServer> StartReplyServerAsync(TaskCompletionSource handlerReturned) =>
        TouTestServer.StartAsync(_ => { }, configureListen: listen => listen.Run(async connection =>
        {
            try
            {
                int wanted = await ReadRequestAsync(connection.Transport.Input);
                if (!await WriteAllAsync(connection.Transport.Output, Payload(wanted)))
                {
                    throw new InvalidOperationException("The client stopped reading before the reply was written.");
                }

                handlerReturned.TrySetResult();
            }
            catch (Exception ex)
            {
                handlerReturned.TrySetException(ex);
            }
        }));

    public static IPEndPoint IPEndPointOf(IConnectionListener listener) => ((TouEndPoint)listener.EndPoint).IPEndPoint;

    /// <summary>Stops the app with a short grace period (a failed test must not wait out the host's 30 s shutdown), then disposes it.</summary>
    public static async Task ShutdownAsync(TouTestServer server)
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await server.App.StopAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await server.DisposeAsync();
    }

    /// <summary>Disposes a connection without letting a failing test hang on it.</summary>
    public static async Task DisposeQuietlyAsync(ConnectionContext? connection)
    {
        if (connection is null)
        {
            return;
        }

        try
        {
            await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or OperationCanceledException or InvalidOperationException)
        {
        }
    }
}
