using System.Net.WebSockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tou.Kestrel.Tests;

/// <summary>One app, served both by TestHost's TestServer and by Kestrel over TOU, for parity tests.</summary>
public static class ParityApp
{
    public static byte[] Bytes(int seed, int length)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static void Map(WebApplication app)
    {
        app.UseWebSockets();
        app.MapGet("/hello", () => "Hello, World!");
        app.MapGet("/headers", (HttpContext c) => $"{c.Request.Method} {c.Request.Path}{c.Request.QueryString} {c.Request.Headers["X-Test"]}");
        app.MapPost("/upload", async (HttpContext c) =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = await c.Request.Body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
            }

            return $"{total}:{Convert.ToHexString(hash.GetCurrentHash())}";
        });
        app.MapGet("/download/{size:int}", async (HttpContext c, int size) =>
        {
            var data = Bytes(size, size);
            c.Response.ContentLength = size;
            for (int offset = 0; offset < size; offset += 32 * 1024)
            {
                await c.Response.Body.WriteAsync(data.AsMemory(offset, Math.Min(32 * 1024, size - offset)));
            }
        });
        app.MapGet("/stream/{count:int}", async (HttpContext c, int count) =>
        {
            for (int i = 0; i < count; i++)
            {
                await c.Response.WriteAsync($"chunk {i}\n");
                await c.Response.Body.FlushAsync();
            }
        });
        app.MapPost("/slow-upload-aware", async (HttpContext c) =>
        {
            try
            {
                var buffer = new byte[8192];
                UploadStarted.TrySetResult();
                while (await c.Request.Body.ReadAsync(buffer, c.RequestAborted) > 0)
                {
                }

                return Results.Ok("complete");
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or Microsoft.AspNetCore.Connections.ConnectionResetException or BadHttpRequestException)
            {
                AbortedRequests.TrySetResult(ex.GetType().Name);
                return Results.StatusCode(499);
            }
        });
        app.Map("/ws", async (HttpContext c) =>
        {
            if (!c.WebSockets.IsWebSocketRequest)
            {
                c.Response.StatusCode = 400;
                return;
            }

            using var socket = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
            }
        });
    }

    public static TaskCompletionSource UploadStarted { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static TaskCompletionSource<string> AbortedRequests { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
