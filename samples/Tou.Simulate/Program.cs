using System.Globalization;
using Tou.Protocol;
using Tou.Simulation;

// Goodput of one TOU connection on a simulated path (virtual time: the figure does not depend on this
// machine's speed). Usage:
//   dotnet run -c Release --project samples/Tou.Simulate -- sweep [--cc bbr,cubic] [--only <group>]   (the scenario sweep: build/sweep.sh)
//   dotnet run -c Release --project samples/Tou.Simulate -- --loss 1 --rtt 50 --rate 100 --size 20 [--seed 1] [--cc bbr|cubic|newreno] [--segments-per-ack 10] [--plain]
if (args.Length > 0 && args[0] == "sweep")
{
    return Tou.Simulate.Sweep.Run(args[1..]);
}

var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
{
    ["loss"] = "0", ["rtt"] = "50", ["rate"] = "100", ["size"] = "20", ["seed"] = "1", ["cc"] = "bbr", ["queue"] = "0", ["segments-per-ack"] = "10",
};
bool plain = false, both = false;
for (int i = 0; i < args.Length; i++)
{
    string key = args[i].TrimStart('-');
    if (key == "plain")
    {
        plain = true;
    }
    else if (key == "both")
    {
        both = true;
    }
    else if (i + 1 < args.Length && settings.ContainsKey(key))
    {
        settings[key] = args[++i];
    }
    else
    {
        Console.Error.WriteLine($"Unknown or incomplete argument '{args[i]}'. Arguments: --loss <percent> --rtt <ms> --rate <Mbit/s> --size <MB> --seed <n> --cc bbr|cubic|newreno --queue <KiB, 0 = one BDP> --segments-per-ack <n> --plain --both");
        return 2;
    }
}

double Get(string name) => double.Parse(settings[name], CultureInfo.InvariantCulture);
double loss = Get("loss") / 100;
var rtt = TimeSpan.FromMilliseconds(Get("rtt"));
long rate = (long)(Get("rate") * 1_000_000);
long size = (long)(Get("size") * 1_000_000);
int queue = Get("queue") > 0 ? (int)(Get("queue") * 1024) : (int)Math.Max(64 * 1024, rate / 8 * rtt.TotalSeconds);
var options = new TouOptions
{
    EnableExtensions = !plain,
    CongestionControl = Enum.Parse<CongestionControlAlgorithm>(settings["cc"], ignoreCase: true),
    IdleTimeout = TimeSpan.FromMinutes(10),
    SegmentsPerAck = (int)Get("segments-per-ack"),
    EnablePathMtuDiscovery = Environment.GetEnvironmentVariable("TOU_SIM_PMTU") != "0",
};
var path = LinkProfile.Path(rtt, loss, rate, queue);
var result = TransferScenario.Run((int)Get("seed"), path, path, uploadBytes: both ? size : 0, downloadBytes: size, options, options);

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"loss {loss:P1}  rtt {rtt.TotalMilliseconds:0} ms  link {rate / 1e6:0} Mbit/s  queue {queue / 1024} KiB  {options.CongestionControl}{(plain ? " plain" : "")}  {size / 1e6:0.#} MB: " +
    $"goodput {result.GoodputMbps:0.00} Mbit/s in {result.TransferUs / 1e6:0.00} s (virtual), " +
    $"retransmitted {result.ServerStats.Retransmissions}, RTOs {result.ServerStats.RetransmissionTimeouts}, exact {result.BytesExact}, close {result.ServerCloseReason}/{result.ClientCloseReason}"));
if (Environment.GetEnvironmentVariable("TOU_SIM_VERBOSE") == "1")
{
    var n = result.Network;
    var st = result.ServerStats;
    Console.WriteLine($"  network: sent {n.Sent} delivered {n.Delivered} lost {n.Lost} queue drops {n.QueueDrops}");
    Console.WriteLine($"  sender: data packets {st.DataPacketsSent} lost-marked {st.SegmentsLost} congestion events {st.CongestionEvents} RTOs {st.RetransmissionTimeouts} rtt samples {st.RttSamples} dropped {st.PacketsDropped}");
    var cs = result.ClientStats;
    Console.WriteLine($"  client sender: data packets {cs.DataPacketsSent} lost-marked {cs.SegmentsLost} congestion events {cs.CongestionEvents} RTOs {cs.RetransmissionTimeouts} probes {cs.ProbesSent} zero-window probes {cs.ZeroWindowProbes}");
    Console.WriteLine($"  receiver: data packets {result.ClientStats.DataPacketsReceived} pure ACKs sent {result.ClientStats.AcksSent} duplicate bytes {result.ClientStats.DuplicateBytesReceived} beyond window {result.ClientStats.BytesBeyondWindow} dropped {result.ClientStats.PacketsDropped}");
    Console.WriteLine($"  path MTU: sender datagram size {st.DatagramSize}, probes sent {st.PathMtuProbesSent} acknowledged {st.PathMtuProbesAcknowledged} lost {st.PathMtuProbesLost} black holes {st.PathMtuBlackHoles}; network dropped {n.TooLarge} too large");
}

return result.Completed && result.BytesExact ? 0 : 1;
