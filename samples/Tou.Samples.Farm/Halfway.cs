using System.Diagnostics;

namespace Tou.Samples.Farm;

/// <summary>
/// Where every client pauses halfway through its requests, its connection open, while a command changes the farm
/// (build/farm.sh reloads nginx's configuration): the second half shows which connections survived the change.
/// </summary>
internal sealed class Halfway(int clients, string? command)
{
    private readonly TaskCompletionSource _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _waiting;

    /// <summary>The run's clock, to say when the clients resumed.</summary>
    public Stopwatch? Clock { get; set; }

    /// <summary>When the clients resumed after the command, or null without one.</summary>
    public TimeSpan? ResumedAt { get; private set; }

    public async Task ArriveAsync()
    {
        if (Interlocked.Increment(ref _waiting) == clients)
        {
            await RunCommandAsync();
            ResumedAt = command is null ? null : Clock?.Elapsed;
            _resumed.SetResult();
        }

        await _resumed.Task;
    }

    private async Task RunCommandAsync()
    {
        if (command is null)
        {
            return;
        }

        Console.WriteLine($"halfway, all {clients} connections open, running: {command}");
        using var process = Process.Start("/bin/sh", ["-c", command]);
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            Console.Error.WriteLine($"error: '{command}' exited with {process.ExitCode}");
        }
    }
}
