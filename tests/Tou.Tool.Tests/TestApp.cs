using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tou.Kestrel;

namespace Tou.Tool.Tests;

/// <summary>A plain ASP.NET Core app served by Kestrel over TOU on loopback: /hello, /bytes/{n} (seeded bytes), 404 elsewhere.</summary>
internal sealed class TestApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestApp(WebApplication app, IPEndPoint endPoint)
    {
        _app = app;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public string Url(string path) => $"http://{EndPoint}{path}";

    public static byte[] Bytes(int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        return bytes;
    }

    public static async Task<TestApp> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTou();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenTou(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapGet("/hello", () => "Hello over TOU");
        app.MapGet("/bytes/{size:int}", (int size) => Results.Bytes(Bytes(size)));
        await app.StartAsync();
        var endPoint = app.Urls.Select(a => TouEndPoint.TryParse(a, out var e) ? e : null).First(e => e is not null)!.IPEndPoint;
        return new TestApp(app, endPoint);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
