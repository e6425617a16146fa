using System.Net;
using Microsoft.AspNetCore.Connections;
using System.Text;
using Tou.Kestrel;
using Tou.Samples.Messaging;

// A Bedrock-style message protocol served by Kestrel over TOU (UseConnectionHandler) and spoken by a client
// over TouConnectionFactory. Run: dotnet run --project samples/Tou.Samples.Messaging
var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.UseTou();
builder.WebHost.ConfigureKestrel(k => k.ListenTou(IPAddress.Loopback, 0, listen => listen.UseConnectionHandler<ReverseEchoConnectionHandler>()));
await using var app = builder.Build();
await app.StartAsync();
var endPoint = app.Urls.Select(a => TouEndPoint.TryParse(a, out var e) ? e : null).First(e => e is not null)!;
Console.WriteLine($"Message server listening on TOU {endPoint.IPEndPoint}");

var factory = new TouConnectionFactory();
await using (var connection = await factory.ConnectAsync(endPoint))
{
    var protocol = new LengthPrefixedProtocol(connection.Transport.Input, connection.Transport.Output);
    foreach (var text in new[] { "hello", "over", "TOU" })
    {
        await protocol.WriteAsync(Encoding.UTF8.GetBytes(text));
        var reply = await protocol.ReadAsync();
        Console.WriteLine($"sent \"{text}\", got \"{Encoding.UTF8.GetString(reply!)}\"");
    }

    await connection.Transport.Output.CompleteAsync();
}

await app.StopAsync();
