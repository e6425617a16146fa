using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Tou.Kestrel;
using Tou.Transport;

// The main demo: an ASP.NET Core app served by Kestrel over TOU (and TCP, side by side), called over TOU
// by an HttpClient, printing every packet that crossed for the first request and then what a bulk
// transfer achieved.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
builder.Logging.SetMinimumLevel(LogLevel.Trace);
// Every packet (seq, ack, flags, window, length) while tracing is on; warnings and errors always.
bool tracing = true;
builder.Logging.AddFilter((category, level) => level >= LogLevel.Warning || (tracing && category == "Tou.Protocol"));
builder.WebHost.UseTou();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, 0);        // TCP
    kestrel.ListenTou(IPAddress.Loopback, 0);     // TOU
});

var app = builder.Build();
app.MapGet("/", () => "Hello, World!");
app.MapGet("/bytes/{size:int}", (int size) => Results.Bytes(RandomNumberGenerator.GetBytes(size)));
await app.StartAsync();

var touAddress = app.Urls.Select(a => TouEndPoint.TryParse(a, out var e) ? e : null).First(e => e is not null)!;
Console.WriteLine($"Listening on {string.Join(", ", app.Urls)}");
Console.WriteLine();
Console.WriteLine($"--- GET / over TOU to {touAddress.IPEndPoint}; the engine's Trace log shows each packet ---");
var clientFactory = new TouConnectionFactory(Microsoft.Extensions.Options.Options.Create(new TouTransportOptions()), app.Services.GetRequiredService<ILoggerFactory>());
using var client = TouHttp.CreateClient(new Uri($"http://{touAddress.IPEndPoint}/"), clientFactory);
string body = await client.GetStringAsync("/");
await Task.Delay(200); // let the last ACKs print before the summary
Console.WriteLine($"--- response body: \"{body}\" ---");
Console.WriteLine();

// Quieter from here on: a bulk download, timed.
tracing = false;
const int size = 50_000_000;
var stopwatch = Stopwatch.StartNew();
var data = await client.GetByteArrayAsync($"/bytes/{size}");
stopwatch.Stop();
Console.WriteLine($"Downloaded {data.Length:N0} bytes over TOU in {stopwatch.Elapsed.TotalMilliseconds:N0} ms = {data.Length * 8 / stopwatch.Elapsed.TotalSeconds / 1e9:N2} Gbit/s");

await app.StopAsync();
