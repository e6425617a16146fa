using BenchmarkDotNet.Running;

// Hot-path microbenchmarks with allocations per operation:
//   dotnet run -c Release --project tests/Tou.Benchmarks -- --filter '*'            (full)
//   dotnet run -c Release --project tests/Tou.Benchmarks -- --filter '*' --job short (quicker)
BenchmarkSwitcher.FromAssembly(typeof(Tou.Benchmarks.HeaderCodecBenchmarks).Assembly).Run(args);
