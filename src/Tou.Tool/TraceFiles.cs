using System.Globalization;
using Tou.Protocol;

namespace Tou.Tool;

/// <summary>Connection traces into a directory: one qlog JSON-SEQ file per connection, named by role and connection id.</summary>
internal static class TraceFiles
{
    public static Func<TouConnection, Stream?> Into(string directory, string? prefix = null)
    {
        Directory.CreateDirectory(directory);
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        return connection => new FileStream(
            Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{prefix ?? stamp}-{(connection.IsClient ? "client" : "server")}-{connection.Id}.sqlog")),
            FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 64 * 1024);
    }
}
