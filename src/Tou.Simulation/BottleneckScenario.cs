using Tou.Protocol;

namespace Tou.Simulation;

/// <summary>
/// Bulk flows sharing one bottleneck for a fixed stretch of virtual time: each flow's server sends without end to its
/// client through one rate-limited queue (the <see cref="Bottleneck"/> profile: rate, queue, loss) plus its own
/// propagation delay, and ACKs return on an unshared path. Measures what congestion control decides — goodput, share,
/// retransmissions, queueing delay — rather than correctness (<see cref="TransferScenario"/> checks bytes).
/// </summary>
public sealed class BottleneckScenario
{
    /// <summary>The shared link: rate, queue limit, loss (its <see cref="LinkProfile.Delay"/> adds to every flow's).</summary>
    public required LinkProfile Bottleneck { get; init; }

    /// <summary>The flows; each gets its own pair of endpoints.</summary>
    public required IReadOnlyList<BottleneckFlow> Flows { get; init; }

    /// <summary>Virtual time the scenario runs.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Start of the measurement window (goodput, shares, queueing delay); it ends with the run.</summary>
    public TimeSpan MeasureFrom { get; init; }

    /// <summary>Bottleneck rate changes during the run: at each time, the link's rate becomes the given one.</summary>
    public IReadOnlyList<(TimeSpan At, long RateBitsPerSecond)> RateSteps { get; init; } = [];

    /// <summary>How often each flow's bytes read are sampled into <see cref="FlowOutcome.ReadSeries"/>.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Seeds the network and the engines.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Options every endpoint starts from (buffers, ACK policy); each flow's controller replaces its setting.</summary>
    public TouOptions? Options { get; init; }

    /// <summary>Runs the scenario.</summary>
    public BottleneckResult Run()
    {
        var network = new SimulatedNetwork(Seed);
        long startUs = network.NowUs;
        var bottleneck = network.CreateLink(Bottleneck);
        long measureFromUs = startUs + Us(MeasureFrom);
        var delays = new List<long>();
        bottleneck.QueueDelayObserver = delay =>
        {
            if (network.NowUs >= measureFromUs)
            {
                delays.Add(delay);
            }
        };

        var flows = new List<FlowRun>();
        for (int i = 0; i < Flows.Count; i++)
        {
            flows.Add(new FlowRun(network, bottleneck, Flows[i], i, Options, Seed));
        }

        var steps = RateSteps.OrderBy(s => s.At).ToList();
        int nextStep = 0;
        long sampleUs = Math.Max(1, Us(SampleInterval));
        long nextSampleUs = startUs;
        long windowStartUs = long.MaxValue;
        network.BeforeStep = () =>
        {
            long now = network.NowUs;
            while (nextStep < steps.Count && now >= startUs + Us(steps[nextStep].At))
            {
                bottleneck.Profile = bottleneck.Profile with { RateBitsPerSecond = steps[nextStep++].RateBitsPerSecond };
            }

            foreach (var flow in flows)
            {
                flow.Drive(now - startUs);
            }

            if (windowStartUs == long.MaxValue && now >= measureFromUs)
            {
                windowStartUs = now;
                flows.ForEach(f => f.MarkWindow());
            }

            while (now >= nextSampleUs)
            {
                flows.ForEach(f => f.Series.Add(f.BytesRead));
                nextSampleUs += sampleUs;
            }
        };

        // In slices, so that flows start and samples are taken on time even while the network is idle.
        long endUs = startUs + Us(Duration);
        network.ActNow();
        while (network.NowUs < endUs)
        {
            network.RunFor(Math.Min(sampleUs, endUs - network.NowUs));
            network.ActNow();
        }

        long windowUs = Math.Max(1, network.NowUs - Math.Min(windowStartUs, network.NowUs));
        delays.Sort();
        long drops = network.Stats.QueueDrops;
        var outcomes = flows.Select(f => f.Outcome(windowUs)).ToList();
        flows.ForEach(f => f.Dispose());
        return new BottleneckResult
        {
            Flows = outcomes,
            QueueDelayP50Us = Percentile(delays, 0.5),
            QueueDelayP95Us = Percentile(delays, 0.95),
            QueueDrops = drops,
        };
    }

    private static long Us(TimeSpan span) => span.Ticks / TimeSpan.TicksPerMicrosecond;

    private static long Percentile(List<long> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    /// <summary>One flow's endpoints and application: the server writes without end, the client reads and counts.</summary>
    private sealed class FlowRun : IDisposable
    {
        private static readonly byte[] Payload = new byte[64 * 1024];
        private readonly byte[] _readBuffer = new byte[64 * 1024];
        private readonly TouEndpoint _client;
        private readonly TouEndpoint _server;
        private readonly long _startUs;
        private readonly SimulatedNetwork _network;
        private TouConnection? _clientConnection;
        private TouConnection? _serverConnection;
        private long _windowStartBytes = -1;

        public FlowRun(SimulatedNetwork network, ImpairedLink bottleneck, BottleneckFlow flow, int index, TouOptions? baseOptions, int seed)
        {
            _network = network;
            _startUs = Us(flow.StartAt);
            var options = (baseOptions ?? new TouOptions()).Clone();
            options.CongestionControl = flow.CongestionControl;
            options.IdleTimeout = TimeSpan.Zero;
            var clientOptions = options.Clone();
            clientOptions.RandomSource = new Random((seed * 31) + (2 * index)).NextBytes;
            var serverOptions = options.Clone();
            serverOptions.RandomSource = new Random((seed * 31) + (2 * index) + 1).NextBytes;
            ClientAddress = SimulatedNetwork.Address($"10.0.{index}.1", 40000);
            ServerAddress = SimulatedNetwork.Address($"10.0.{index}.2", 5000);
            _client = new TouEndpoint(clientOptions) { LocalPort = 40000 };
            _server = new TouEndpoint(serverOptions) { LocalPort = 5000, IsListening = true };
            network.AddNode(ClientAddress, _client);
            network.AddNode(ServerAddress, _server);
            network.SetLink(ServerAddress, ClientAddress, bottleneck, flow.Rtt / 2);
            network.SetLink(ClientAddress, ServerAddress, new LinkProfile { Delay = flow.Rtt / 2, MaxDatagramSize = bottleneck.Profile.MaxDatagramSize });
        }

        public System.Net.SocketAddress ClientAddress { get; }

        public System.Net.SocketAddress ServerAddress { get; }

        public List<long> Series { get; } = new();

        public long BytesRead { get; private set; }

        public void Drive(long elapsedUs)
        {
            if (_clientConnection is null)
            {
                if (elapsedUs < _startUs)
                {
                    return;
                }

                _clientConnection = _client.Connect(_network.NowUs, ServerAddress);
            }

            _serverConnection ??= _server.Accept();
            if (_serverConnection is { State: TouConnectionState.Established })
            {
                while (_serverConnection.Write(Payload) > 0)
                {
                }
            }

            int read;
            while ((read = _clientConnection.Read(_readBuffer)) > 0)
            {
                BytesRead += read;
            }
        }

        public void MarkWindow() => _windowStartBytes = BytesRead;

        public FlowOutcome Outcome(long windowUs)
        {
            var stats = _serverConnection?.Stats ?? new TouConnectionStats();
            long inWindow = BytesRead - Math.Max(0, _windowStartBytes);
            return new FlowOutcome
            {
                BytesRead = BytesRead,
                BytesReadInWindow = inWindow,
                GoodputBitsPerSecond = inWindow * 8e6 / windowUs,
                DataPacketsSent = stats.DataPacketsSent,
                Retransmissions = stats.Retransmissions,
                RetransmissionTimeouts = stats.RetransmissionTimeouts,
                ReadSeries = Series,
            };
        }

        public void Dispose()
        {
            _client.Dispose();
            _server.Dispose();
        }
    }
}
