using Tou.Samples.Farm;

// build/farm.sh runs this program as each backend and as the driver:
//   serve NAME PORT                         Kestrel over TOU on 127.0.0.1:PORT, answering as NAME
//   drive LB_PORT CLIENTS REQUESTS NAME=PORT...   health-checks each backend directly, then drives the balancer
return args switch
{
    ["serve", var name, var port] => await FarmServer.RunAsync(name, int.Parse(port, System.Globalization.CultureInfo.InvariantCulture)),
    ["drive", var lbPort, var clients, var requests, .. var backends] when backends.Length > 0 =>
        await FarmDriver.RunAsync(FarmDriver.Settings.Parse(lbPort, clients, requests, backends)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Tou.Samples.Farm serve NAME PORT | drive LB_PORT CLIENTS REQUESTS NAME=PORT...");
    return 2;
}
