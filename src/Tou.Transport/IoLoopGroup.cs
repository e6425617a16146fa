
namespace Tou.Transport;

/// <summary>
/// The process's I/O loops: one per processor, started as sockets are registered, so that a process's sockets
/// are served by as many threads as it has cores and never by a thread per socket. Consecutive requests get
/// consecutive loops, so a listener's shards land on different cores.
/// </summary>
internal sealed class IoLoopGroup
{
    private static readonly Lazy<IoLoopGroup?> s_shared = new(Create);
    private readonly IoLoop?[] _loops;
    private readonly Lock _lock = new();
    private int _next;

    private IoLoopGroup(int size) => _loops = new IoLoop?[size];

    /// <summary>The process's group; null where there is no epoll (not Linux), and sockets use async receives and timers.</summary>
    public static IoLoopGroup? Shared => s_shared.Value;

    /// <summary>Loops in the group (some may not have started).</summary>
    public int Size => _loops.Length;

    /// <summary>The loops started so far.</summary>
    public IEnumerable<IoLoop> Started
    {
        get
        {
            lock (_lock)
            {
                return _loops.OfType<IoLoop>().ToArray();
            }
        }
    }

    /// <summary>The next loop in turn.</summary>
    public IoLoop Next()
    {
        lock (_lock)
        {
            int index = _next;
            _next = (_next + 1) % _loops.Length;
            return _loops[index] ??= new IoLoop(index);
        }
    }

    private static IoLoopGroup? Create()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("TOU_PORTABLE_IO") == "1")
        {
            return null;
        }

        try
        {
            var group = new IoLoopGroup(Math.Clamp(Environment.ProcessorCount, 1, TouTransportOptions.MaxListenerShards));
            group.Next();
            group._next = 0;
            return group;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            return null; // no usable epoll here: the portable path
        }
    }
}
