using Microsoft.AspNetCore.Builder;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Tou.Transport;

namespace Tou.Kestrel.Tests;

/// <summary>
/// The Tou meter comes from each host's <see cref="IMeterFactory"/>: a host's measurements are its own, which is how
/// tests (and hosts side by side in one process) read them without seeing each other's.
/// </summary>
public class MeterFactoryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Each_host_records_to_the_meter_of_its_own_meter_factory()
    {
        await using var first = await TouTestServer.StartAsync(app => app.MapGet("/", () => "first"));
        await using var second = await TouTestServer.StartAsync(app => app.MapGet("/", () => "second"));
        var firstFactory = first.Services.GetRequiredService<IMeterFactory>();
        var secondFactory = second.Services.GetRequiredService<IMeterFactory>();
        using var firstOpened = new MetricCollector<long>(firstFactory, TouMetrics.MeterName, "tou.connections.opened");
        using var secondOpened = new MetricCollector<long>(secondFactory, TouMetrics.MeterName, "tou.connections.opened");
        using var firstDuration = new MetricCollector<double>(firstFactory, TouMetrics.MeterName, "tou.connection.duration");
        using var firstReceived = new MetricCollector<long>(firstFactory, TouMetrics.MeterName, "tou.datagrams.received");

        using (var client = first.CreateClient())
        {
            Assert.Equal("first", await client.GetStringAsync("/").WaitAsync(Bound));
        }

        // The server side of the first host counted its inbound connection; the second host saw nothing.
        var opened = Assert.Single(firstOpened.GetMeasurementSnapshot());
        Assert.Equal(1, opened.Value);
        Assert.Equal("inbound", opened.Tags["tou.connection.direction"]);
        Assert.Empty(secondOpened.GetMeasurementSnapshot());
        Assert.NotEmpty(firstReceived.GetMeasurementSnapshot());

        // The client closed; once the server's side has ended too, its duration is recorded (seconds, with the reason).
        await firstDuration.WaitForMeasurementsAsync(1).WaitAsync(Bound);
        var duration = firstDuration.GetMeasurementSnapshot()[0];
        Assert.True(duration.Value >= 0);
        Assert.Equal("inbound", duration.Tags["tou.connection.direction"]);
        Assert.True(duration.Tags.ContainsKey("tou.connection.close_reason"));
        Assert.Equal("s", firstDuration.Instrument!.Unit);
    }

    [Fact]
    public async Task Without_a_host_the_process_wide_Tou_meter_is_used()
    {
        using var listener = new MeterListener();
        long opened = 0;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TouMetrics.MeterName && instrument.Meter.Scope is null && instrument.Name == "tou.connections.opened")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "tou.connection.direction" && (string?)tag.Value == "outbound")
                {
                    Interlocked.Add(ref opened, value);
                }
            }
        });
        listener.Start();

        await using var server = await TouTestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        using var client = server.CreateClient(); // the test server's client factory is made without DI
        Assert.Equal("ok", await client.GetStringAsync("/").WaitAsync(Bound));
        Assert.True(Interlocked.Read(ref opened) >= 1);
    }
}
