using System.Net;
using Tou.Kestrel;
using Tou.Kestrel.Testing;

// A program built only from the Tou packages (Tou.Kestrel and Tou.Kestrel.Testing, and through them Tou.Transport and
// Tou.Protocol): it serves an app over TOU, calls it over TOU, does the same through the test helper, and exits.
using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(1));

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseTou();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenTou(IPAddress.Loopback, 0));
await using (var app = builder.Build())
{
    app.MapGet("/", () => "Hello from the Tou packages");
    await app.StartAsync(bound.Token);
    var endPoint = app.Urls.Select(url => TouEndPoint.TryParse(url, out var e) ? e : null).First(e => e is not null)!;
    using var http = TouHttp.CreateClient(new Uri($"http://{endPoint.IPEndPoint}/"));
    Console.WriteLine($"app over TOU: {await http.GetStringAsync("/", bound.Token)}");
    await app.StopAsync(bound.Token);
}

await using (var server = await TouTestServer.StartAsync(app => app.MapGet("/", () => "Hello from Tou.Kestrel.Testing"), cancellationToken: bound.Token))
{
    using var client = server.CreateClient();
    Console.WriteLine($"test server over TOU: {await client.GetStringAsync("/", bound.Token)}");
}
