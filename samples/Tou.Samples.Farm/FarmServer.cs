using System.Net;
using Tou.Kestrel;

namespace Tou.Samples.Farm;

/// <summary>One backend of the farm: Kestrel over TOU on a loopback port, answering as its name.</summary>
internal static class FarmServer
{
    /// <summary>The response header that names the backend, so the driver can count the spread.</summary>
    public const string ServerHeader = "X-Farm-Server";

    public static async Task<int> RunAsync(string name, int port, int serverId)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // Connection IDs for the clients that offer them, each carrying this backend's server ID (one byte, QUIC-LB
        // style): what an ID-aware balancer would route by, and what lets a connection survive a new source address.
        builder.WebHost.UseTou(tou =>
        {
            tou.Protocol.EnableConnectionIds = true;
            tou.Protocol.ConnectionIdServerIdLength = 1;
            tou.Protocol.ConnectionIdServerId = serverId;
        });
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenTou(IPAddress.Loopback, port));

        var app = builder.Build();
        app.Use((context, next) =>
        {
            context.Response.Headers[ServerHeader] = name;
            return next(context);
        });
        // What a health check asks (nginx open source cannot check UDP backends actively; see docs/deployment.md).
        app.MapGet("/health", () => "ok");
        // The work: the request body reversed, so every response is checkable byte for byte in both directions.
        app.MapPost("/work", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted);
            var bytes = body.ToArray();
            Array.Reverse(bytes);
            return Results.Bytes(bytes, "application/octet-stream");
        });

        await app.StartAsync();
        Console.WriteLine($"{name}: serving HTTP over TOU on 127.0.0.1:{port} (server ID {serverId})");
        await app.WaitForShutdownAsync();
        return 0;
    }
}
