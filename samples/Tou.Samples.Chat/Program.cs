using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Tou.Kestrel;

// SignalR chat over TOU: the hub is served by Kestrel on a TOU endpoint (SignalR's connection handler,
// no HTTP), and HubConnections reach it through TouConnectionFactory — what Bedrock's
// UseConnectionFactory does. Run: dotnet run --project samples/Tou.Samples.Chat
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSignalR();
builder.WebHost.UseTou();
builder.WebHost.ConfigureKestrel(k => k.ListenTou(IPAddress.Loopback, 0, listen => listen.UseHub<ChatHub>()));
await using var app = builder.Build();
await app.StartAsync();
var endPoint = app.Urls.Select(a => TouEndPoint.TryParse(a, out var e) ? e : null).First(e => e is not null)!;
Console.WriteLine($"Chat hub on TOU {endPoint.IPEndPoint}");

var factory = new TouConnectionFactory();
async Task<HubConnection> JoinAsync(string name, TaskCompletionSource<bool> heardAll, int expected)
{
    var hubBuilder = new HubConnectionBuilder();
    hubBuilder.Services.AddSingleton<IConnectionFactory>(factory);
    hubBuilder.Services.AddSingleton<EndPoint>(endPoint);
    var hub = hubBuilder.Build();
    int heard = 0;
    hub.On<string, string>("Message", (user, text) =>
    {
        Console.WriteLine($"  {name} sees {user}: {text}");
        if (Interlocked.Increment(ref heard) == expected)
        {
            heardAll.TrySetResult(true);
        }
    });
    await hub.StartAsync();
    return hub;
}

var aliceDone = new TaskCompletionSource<bool>();
var bobDone = new TaskCompletionSource<bool>();
await using var alice = await JoinAsync("alice", aliceDone, 2);
await using var bob = await JoinAsync("bob", bobDone, 2);
await alice.InvokeAsync("Send", "alice", "hello over UDP");
await bob.InvokeAsync("Send", "bob", "reliably, in order");
await Task.WhenAll(aliceDone.Task, bobDone.Task).WaitAsync(TimeSpan.FromSeconds(30));
await app.StopAsync();

public sealed class ChatHub : Hub
{
    public Task Send(string user, string message) => Clients.All.SendAsync("Message", user, message);
}
