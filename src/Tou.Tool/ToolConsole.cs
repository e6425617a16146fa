namespace Tou.Tool;

/// <summary>Where a command writes: the real console, or writers and a stream a test supplies.</summary>
internal sealed class ToolConsole(TextWriter output, TextWriter error, Func<Stream> openStandardOutput, bool errorIsTerminal)
{
    /// <summary>Text output (reports, headers, JSON).</summary>
    public TextWriter Out { get; } = output;

    /// <summary>One-line errors, progress and diagnostics.</summary>
    public TextWriter Error { get; } = error;

    /// <summary>Whether <see cref="Error"/> is a terminal (progress bars only then).</summary>
    public bool ErrorIsTerminal { get; } = errorIsTerminal;

    /// <summary>Binary standard output (a response body).</summary>
    public Stream OpenStandardOutput() => openStandardOutput();

    public static ToolConsole CreateSystem() =>
        new(Console.Out, Console.Error, Console.OpenStandardOutput, !Console.IsErrorRedirected);
}
