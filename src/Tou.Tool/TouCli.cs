using System.CommandLine;

namespace Tou.Tool;

/// <summary>The command tree of <c>tou</c>, and the one place where a command's failure becomes a line and an exit code.</summary>
internal static class TouCli
{
    /// <summary>Parses <paramref name="args"/> and runs the command; Ctrl+C cancels it (a command then stops cleanly).</summary>
    public static Task<int> RunAsync(string[] args, ToolConsole console, CancellationToken cancellationToken = default)
    {
        var root = CreateRootCommand(console);
        var configuration = new InvocationConfiguration { Output = console.Out, Error = console.Error };
        return root.Parse(args).InvokeAsync(configuration, cancellationToken);
    }

    public static RootCommand CreateRootCommand(ToolConsole console)
    {
        var root = new RootCommand("tou: measure, fetch over, relay, simulate and trace TOU (TCP-like transport over UDP).");
        root.Subcommands.Add(PerfCommands.Create(console));
        root.Subcommands.Add(GetCommand.Create(console));
        root.Subcommands.Add(RelayCommand.Create(console));
        root.Subcommands.Add(SimulateCommand.Create(console));
        root.Subcommands.Add(TraceCommands.Create(console));
        return root;
    }

    /// <summary>Runs a command's body: an exception becomes "tou: message" on one line and its exit code, never a stack trace.</summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Guard(ToolConsole console, Func<ParseResult, CancellationToken, Task<int>> body) =>
        async (parseResult, cancellationToken) =>
        {
            try
            {
                return await body(parseResult, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await console.Error.WriteLineAsync("tou: interrupted").ConfigureAwait(false);
                return ToolErrors.Interrupted;
            }
            catch (Exception ex)
            {
                var (message, exitCode) = ToolErrors.Describe(ex);
                await console.Error.WriteLineAsync($"tou: {message}").ConfigureAwait(false);
                return exitCode;
            }
        };
}
