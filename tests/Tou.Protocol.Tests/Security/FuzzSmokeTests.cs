using Tou.Fuzz;

namespace Tou.Protocol.Tests.Security;

/// <summary>
/// The fuzz targets in-process on the committed corpus and seeded mutations of it (bit flips, byte
/// changes, cuts, splices): a short, deterministic version of what build/fuzz.sh runs under AFL++. Any input
/// AFL++ ever reports goes into tests/Tou.Fuzz/corpus as a regression case and runs here from then on.
/// </summary>
public class FuzzSmokeTests
{
    private static string CorpusDirectory(string target) => Path.Combine(AppContext.BaseDirectory, "corpus", target);

    public static IEnumerable<object[]> Targets() => [["header"], ["endpoint"]];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Mutated_inputs_never_throw(string target)
    {
        var files = Directory.GetFiles(CorpusDirectory(target)).Select(File.ReadAllBytes).ToList();
        Assert.NotEmpty(files);
        Action<byte[]> run = target == "header" ? input => FuzzTargets.Header(input) : input => FuzzTargets.Endpoint(input);
        var rng = new Random(2026);
        int rounds = target == "header" ? 20_000 : 600;
        foreach (var file in files)
        {
            run(file);
        }

        for (int i = 0; i < rounds; i++)
        {
            run(Mutate(files[rng.Next(files.Count)], files[rng.Next(files.Count)], rng));
        }
    }

    private static byte[] Mutate(byte[] input, byte[] other, Random rng)
    {
        var data = new List<byte>(input);
        int edits = rng.Next(1, 6);
        for (int e = 0; e < edits; e++)
        {
            int at = data.Count == 0 ? 0 : rng.Next(data.Count);
            switch (rng.Next(6))
            {
                case 0 when data.Count > 0: data[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1 when data.Count > 0: data[at] = (byte)rng.Next(256); break;
                case 2 when data.Count > 0: data.RemoveRange(at, Math.Min(rng.Next(1, 16), data.Count - at)); break;
                case 3: data.InsertRange(at, Enumerable.Range(0, rng.Next(1, 16)).Select(_ => (byte)rng.Next(256))); break;
                case 4 when other.Length > 0: int from = rng.Next(other.Length); data.InsertRange(at, other.Skip(from).Take(rng.Next(1, 64))); break;
                default: if (data.Count > 0) data[at] = (byte)(data[at] + 1); break;
            }
        }

        return data.ToArray();
    }
}
