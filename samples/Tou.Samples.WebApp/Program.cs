using System.Net;
using OpenTelemetry.Metrics;
using Tou.Kestrel;
using Tou.Samples.WebApp;
using Tou.Transport;

var builder = WebApplication.CreateBuilder(args);

// TOU beside TCP. The transport's settings come from the "Tou" section of appsettings.json and are checked at start.
builder.WebHost.UseTou();
builder.WebHost.ConfigureKestrel((context, kestrel) =>
{
    // The app's TOU endpoint, from configuration ("Sample:TouPort"); an empty value leaves it out (the tests do: the
    // test factory serves the app on a loopback port of its own).
    if (context.Configuration.GetValue<int?>("Sample:TouPort") is int port)
    {
        kestrel.ListenTou(IPAddress.Loopback, port);
    }
});

builder.Services.AddSingleton<IGreeter, Greeter>();

// OpenTelemetry metrics: the Tou meter (and Kestrel's) to the console every few seconds.
if (builder.Configuration.GetValue<bool>("Sample:ConsoleMetrics"))
{
    builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
        .AddMeter(TouMetrics.MeterName, "Microsoft.AspNetCore.Server.Kestrel")
        .AddConsoleExporter((_, reader) => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 10_000));
}

var app = builder.Build();
app.MapGet("/", (IGreeter greeter) => greeter.Greet("world"));
app.MapGet("/hello/{name}", (string name, IGreeter greeter) => greeter.Greet(name));
app.MapGet("/connection", (HttpContext context) => context.Features.Get<ITouConnectionFeature>() is { } tou
    ? $"TOU from {context.Connection.RemoteIpAddress}, integrity {(tou.Negotiation.Integrity ? "on" : "off")}"
    : $"TCP from {context.Connection.RemoteIpAddress}");
app.Run();

/// <summary>The app's entry point, public so that tests can name it in <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
