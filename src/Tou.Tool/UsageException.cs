namespace Tou.Tool;

/// <summary>A command line that parsed but makes no sense (a bad address or URL): exit code 2, one line.</summary>
internal sealed class UsageException(string message) : Exception(message);
