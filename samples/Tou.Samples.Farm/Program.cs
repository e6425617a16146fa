using Tou.Samples.Farm;

// build/farm.sh runs this program as each backend and as the driver:
//   serve NAME PORT SERVER_ID     Kestrel over TOU on 127.0.0.1:PORT answering as NAME; connection IDs carry SERVER_ID
//   drive LB_PORT CLIENTS REQUESTS [--connection-ids] [--between COMMAND] NAME=PORT...
//                                 health-checks each backend directly, then drives the balancer; with --between,
//                                 every connection pauses halfway, open, while COMMAND runs
return args switch
{
    ["serve", var name, var port, var serverId] => await FarmServer.RunAsync(name, Int(port), Int(serverId)),
    ["drive", var lbPort, var clients, var requests, .. var rest] when FarmDriver.Settings.TryParse(lbPort, clients, requests, rest) is { } settings =>
        await FarmDriver.RunAsync(settings),
    _ => Usage(),
};

static int Int(string value) => int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);

static int Usage()
{
    Console.Error.WriteLine("usage: Tou.Samples.Farm serve NAME PORT SERVER_ID | drive LB_PORT CLIENTS REQUESTS [--connection-ids] [--between COMMAND] NAME=PORT...");
    return 2;
}
