using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Tou.Kestrel.Tests;

/// <summary>
/// The packages as a user gets them: build/pack.sh packs the four libraries into a folder, samples/PackageConsumer (outside
/// the solution, no project references) restores them from that folder as a feed, builds, runs and answers over TOU. A
/// package that is broken — missing a dependency, an assembly, its metadata — fails here.
/// </summary>
public sealed class PackageConsumerTests : IDisposable
{
    private static readonly TimeSpan StepBound = TimeSpan.FromMinutes(4);
    private static readonly string[] Packages = ["Tou.Protocol", "Tou.Transport", "Tou.Kestrel", "Tou.Kestrel.Testing"];
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("tou-packages-");

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    public void Dispose() => _work.Delete(recursive: true);

    [Fact]
    public async Task The_packed_libraries_restore_from_a_folder_feed_build_and_answer_over_TOU()
    {
        var root = RepositoryRoot();

        // The layout of the repository, in miniature: artifacts/packages beside samples/PackageConsumer, so the sample's
        // own NuGet.config (../../artifacts/packages) finds the feed this run packs.
        var feed = Directory.CreateDirectory(Path.Combine(_work.FullName, "artifacts", "packages"));
        var consumer = Directory.CreateDirectory(Path.Combine(_work.FullName, "samples", "PackageConsumer"));
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "samples", "PackageConsumer")))
        {
            File.Copy(file, Path.Combine(consumer.FullName, Path.GetFileName(file)));
        }

        // A version of this run's own, so no package of the same version cached anywhere can stand in for it. The
        // libraries are already built (dotnet test built them): pack only.
        string version = $"{RepositoryVersion(root)}.consumer.g{Guid.NewGuid():N}";
        var pack = await RunAsync("bash", [Path.Combine(root, "build", "pack.sh"), feed.FullName, "--no-build"], root,
            ("TOU_VERSION", version), ("TOU_CONFIGURATION", Configuration));
        Assert.True(pack.ExitCode == 0, $"build/pack.sh failed:\n{pack.Output}");
        foreach (var id in Packages)
        {
            Assert.True(File.Exists(Path.Combine(feed.FullName, $"{id}.{version}.nupkg")), $"{id}.{version}.nupkg missing:\n{pack.Output}");
            Assert.True(File.Exists(Path.Combine(feed.FullName, $"{id}.{version}.snupkg")), $"{id}.{version}.snupkg missing:\n{pack.Output}");
            AssertMetadata(Path.Combine(feed.FullName, $"{id}.{version}.nupkg"), id, version);
        }

        // Restore into a folder of this run (nothing lands in the machine's package cache), reading other packages from
        // that cache where they are already (no download).
        var properties = new List<string>
        {
            $"-p:TouVersion={version}",
            $"-p:RestorePackagesPath={Path.Combine(_work.FullName, "packages")}",
        };
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (Directory.Exists(cache))
        {
            properties.Add($"-p:RestoreAdditionalProjectFallbackFolders={cache}");
        }

        var build = await RunAsync(Dotnet, ["build", consumer.FullName, "-c", "Release", "-nologo", "--disable-build-servers", .. properties], consumer.FullName);
        Assert.True(build.ExitCode == 0, $"The consumer did not build:\n{build.Output}");

        var run = await RunAsync(Dotnet, [Path.Combine(consumer.FullName, "bin", "Release", "net10.0", "PackageConsumer.dll")], consumer.FullName);
        Assert.True(run.ExitCode == 0, $"The consumer failed:\n{run.Output}");
        Assert.Contains("app over TOU: Hello from the Tou packages", run.Output, StringComparison.Ordinal);
        Assert.Contains("test server over TOU: Hello from Tou.Kestrel.Testing", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_consumer_asks_for_the_version_the_repository_packs()
    {
        var root = RepositoryRoot();
        var project = XDocument.Load(Path.Combine(root, "samples", "PackageConsumer", "PackageConsumer.csproj"));
        var asked = project.Descendants("TouVersion").Single().Value;
        Assert.Equal(RepositoryVersion(root), asked);

        // And it is outside the solution's project graph.
        Assert.DoesNotContain("PackageConsumer", File.ReadAllText(Path.Combine(root, "Tou.Kestrel.sln")), StringComparison.Ordinal);
    }

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static void AssertMetadata(string package, string id, string version)
    {
        using var zip = ZipFile.OpenRead(package);
        var nuspecEntry = zip.GetEntry($"{id}.nuspec");
        Assert.NotNull(nuspecEntry);
        using var stream = nuspecEntry.Open();
        var metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Value(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? string.Empty;
        Assert.Equal(id, Value("id"));
        Assert.Equal(version, Value("version"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("README.md", Value("readme"));
        Assert.NotEmpty(Value("description"));
        Assert.Contains("tou", Value("tags").Split(' '));
        Assert.NotNull(zip.GetEntry("README.md"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.dll"));
        Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml")); // the XML documentation, for IntelliSense
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tou.Kestrel.sln")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        return dir.FullName;
    }

    /// <summary>VersionPrefix-VersionSuffix from the repository's Directory.Build.props, the one place the version is set.</summary>
    private static string RepositoryVersion(string root)
    {
        var props = XDocument.Load(Path.Combine(root, "Directory.Build.props"));
        string prefix = props.Descendants("VersionPrefix").Single().Value;
        string suffix = props.Descendants("VersionSuffix").SingleOrDefault()?.Value ?? string.Empty;
        Assert.Matches(new Regex(@"^\d+\.\d+\.\d+$"), prefix);
        return suffix.Length > 0 ? $"{prefix}-{suffix}" : prefix;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The test host runs inside `dotnet test`, whose MSBuild settings must not leak into these builds.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1"; // no build nodes left running after the test
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var stdout = PumpAsync(process.StandardOutput, output);
        var stderr = PumpAsync(process.StandardError, output);
        using var bound = new CancellationTokenSource(StepBound);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            output.AppendLine($"(stopped after {StepBound.TotalMinutes} minutes)");
        }

        await Task.WhenAll(stdout, stderr);
        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder output)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}
