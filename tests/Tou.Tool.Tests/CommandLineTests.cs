namespace Tou.Tool.Tests;

/// <summary>Every command answers --help; the simulator command runs a transfer.</summary>
public class CommandLineTests
{
    [Theory]
    [InlineData("perf")]
    [InlineData("perf", "server")]
    [InlineData("perf", "client")]
    [InlineData("get")]
    [InlineData("relay")]
    [InlineData("simulate")]
    public async Task Every_command_has_help(params string[] command)
    {
        var run = await ToolRun.RunAsync([.. command, "--help"]);
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Usage:", run.Out, StringComparison.Ordinal);
        Assert.Contains("--help", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Simulate_reports_an_exact_transfer()
    {
        var run = await ToolRun.RunAsync("simulate", "--loss", "1", "--rtt", "20", "--rate", "50", "--size", "1");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("exact True", run.Out, StringComparison.Ordinal);
        Assert.Contains("goodput", run.Out, StringComparison.Ordinal);
        Assert.Contains($"  {new Tou.Protocol.TouOptions().CongestionControl}  ", run.Out, StringComparison.Ordinal); // the engine's default without --cc
    }
}
