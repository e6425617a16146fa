using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tou.Transport;

namespace Tou.Tool.Tests;

/// <summary>`tou get` against an ordinary Kestrel-over-TOU app, `tou perf` against its URLs, and the error cases: one line, non-zero exit.</summary>
public class GetTests
{
    [Fact]
    public async Task Get_writes_the_body_to_stdout_and_exits_0()
    {
        await using var app = await TestApp.StartAsync();
        var run = await ToolRun.RunAsync("get", app.Url("/hello"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("Hello over TOU", Encoding.UTF8.GetString(run.Stdout));
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task Get_with_output_and_verbose_writes_the_file_headers_and_timings()
    {
        await using var app = await TestApp.StartAsync();
        string file = Path.Combine(Path.GetTempPath(), $"tou-get-{Guid.NewGuid():N}.bin");
        try
        {
            var run = await ToolRun.RunAsync("get", app.Url("/bytes/3000000"), "-v", "-o", file);
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(SHA256.HashData(TestApp.Bytes(3_000_000)), SHA256.HashData(await File.ReadAllBytesAsync(file)));
            Assert.Contains("< HTTP/1.1 200 OK", run.Error, StringComparison.Ordinal);
            Assert.Contains("< Content-Length: 3000000", run.Error, StringComparison.Ordinal);
            Assert.Contains("* connected to", run.Error, StringComparison.Ordinal);
            Assert.Contains("3000000 bytes; connect", run.Error, StringComparison.Ordinal);
            Assert.Empty(run.Stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Get_of_a_missing_path_exits_22()
    {
        await using var app = await TestApp.StartAsync();
        var run = await ToolRun.RunAsync("get", app.Url("/nothing-here"));
        Assert.Equal(GetCommand.HttpError, run.ExitCode);
    }

    [Fact]
    public async Task Perf_downloads_from_an_app_url_and_checks_the_length()
    {
        await using var app = await TestApp.StartAsync();
        var run = await ToolRun.RunAsync("perf", "client", app.Url("/bytes/2000000"), "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Out);
        Assert.Equal(2_000_000, json.RootElement.GetProperty("received_bytes").GetInt64());
        Assert.True(json.RootElement.GetProperty("verified").GetBoolean());
        Assert.True(json.RootElement.GetProperty("received_goodput_bps").GetDouble() > 0);
    }

    [Fact]
    public async Task A_refused_connection_is_one_line_and_exit_3()
    {
        // A TOU endpoint that does not listen answers the SYN with RST: refused, as a closed TCP port.
        await using var notListening = TouSocketEndpoint.Bind(new IPEndPoint(IPAddress.Loopback, 0), listen: false);
        foreach (var args in new[] { new[] { "get", $"http://{notListening.LocalEndPoint}/" }, ["perf", "client", notListening.LocalEndPoint.ToString(), "-t", "1"] })
        {
            var run = await ToolRun.RunAsync(args);
            Assert.Equal(ToolErrors.Refused, run.ExitCode);
            AssertOneLine(run, "refused");
        }
    }

    [Fact]
    public async Task A_silent_peer_times_out_with_exit_4()
    {
        using var silent = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never answers
        var run = await ToolRun.RunAsync("get", $"http://{silent.LocalEndPoint}/", "--connect-timeout", "1");
        Assert.Equal(ToolErrors.TimedOut, run.ExitCode);
        AssertOneLine(run, "timed out");
    }

    [Theory]
    [InlineData("get", "not-a-url")]
    [InlineData("get", "ftp://127.0.0.1:1/")]
    [InlineData("perf", "client", "127.0.0.1")]
    [InlineData("perf", "client", "127.0.0.1:99999")]
    [InlineData("perf", "server", "--listen", "banana")]
    [InlineData("perf", "client", "127.0.0.1:5201", "--cc", "vegas")]
    public async Task A_bad_url_or_address_is_one_line_and_exit_2(params string[] args)
    {
        var run = await ToolRun.RunAsync(args);
        Assert.Equal(ToolErrors.Usage, run.ExitCode);
        AssertOneLine(run, "bad");
    }

    private static void AssertOneLine(ToolRun run, string expected)
    {
        var lines = run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, run.ToString());
        Assert.StartsWith("tou: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.OrdinalIgnoreCase);
        Assert.Empty(run.Out);
    }
}
