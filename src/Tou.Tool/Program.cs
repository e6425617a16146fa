namespace Tou.Tool;

/// <summary>`tou`, the TOU command line: every command lives in <see cref="TouCli"/>; this wires it to the real console.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => TouCli.RunAsync(args, ToolConsole.CreateSystem());
}
