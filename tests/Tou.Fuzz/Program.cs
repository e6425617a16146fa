using SharpFuzz;
using Tou.Fuzz;

// AFL++ entry point (see build/fuzz.sh):  Tou.Fuzz header|endpoint
// Replay one input (a crash or hang AFL found):  Tou.Fuzz header|endpoint --replay <file>
if (args.Length == 2 && args[0] == "--make-corpus")
{
    CorpusMaker.Write(args[1]);
    return 0;
}

if (args.Length == 0 || args[0] is not ("header" or "endpoint"))
{
    Console.Error.WriteLine("usage: Tou.Fuzz header|endpoint [--replay <file>]");
    return 2;
}

ReadOnlySpanAction target = args[0] == "header" ? FuzzTargets.Header : FuzzTargets.Endpoint;
if (args.Length == 3 && args[1] == "--replay")
{
    target(File.ReadAllBytes(args[2]));
    Console.WriteLine("no failure");
    return 0;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    target(memory.GetBuffer().AsSpan(0, (int)memory.Length));
});
return 0;

internal delegate void ReadOnlySpanAction(ReadOnlySpan<byte> input);
