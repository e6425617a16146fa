using System.Buffers;
using System.Diagnostics.Metrics;
using Tou.Protocol;

namespace Tou.Transport;

/// <summary>
/// Settings of the UDP I/O layer; <see cref="Protocol"/> holds the engine's. In a host, <c>UseTou</c> binds them from the
/// configuration's <c>"Tou"</c> section (durations as <see cref="TimeSpan"/>s, e.g. <c>"00:02:00"</c>; the engine's under
/// <c>"Tou:Protocol"</c>) and validates them when the host starts.
/// </summary>
public sealed class TouTransportOptions
{
    /// <summary>The protocol engine's settings (buffers, timers, extensions, limits).</summary>
    public TouOptions Protocol { get; set; } = new();

    /// <summary>Kernel receive buffer of each UDP socket (SO_RCVBUF); bursts beyond it are lost by the kernel.</summary>
    public int SocketReceiveBufferSize { get; set; } = 8 * 1024 * 1024;

    /// <summary>Kernel send buffer of each UDP socket (SO_SNDBUF).</summary>
    public int SocketSendBufferSize { get; set; } = 8 * 1024 * 1024;

    /// <summary>Send runs of equal-size datagrams to one peer in one system call with UDP GSO (Linux UDP_SEGMENT);
    /// falls back by itself where the kernel lacks it.</summary>
    public bool UseSegmentationOffload { get; set; } = true;

    /// <summary>
    /// UDP sockets a listener opens on its port (Linux SO_REUSEPORT), each with its own engine, receive loop, timer and
    /// lock, so that connections are served on every core; the kernel keeps each peer on one socket. 0 (the default) opens
    /// one per processor, at most <see cref="MaxListenerShards"/>. Where SO_REUSEPORT does not spread load (other systems)
    /// a listener has one socket whatever this says. Client endpoints always have one. Engine limits
    /// (<see cref="TouOptions.MaxConnections"/>, <see cref="TouOptions.MaxPendingHandshakes"/>, <see cref="TouOptions.AcceptBacklog"/>) hold per socket.
    /// </summary>
    public int ListenerShards { get; set; }

    /// <summary>The most sockets <see cref="ListenerShards"/> may ask for.</summary>
    public const int MaxListenerShards = 64;

    /// <summary>Pool for the pipes' memory; Kestrel passes its own.</summary>
    public MemoryPool<byte>? MemoryPool { get; set; }

    /// <summary>Unread bytes the application-facing input pipe holds before the transport stops filling it
    /// (then the engine's receive buffer fills and the advertised window closes).</summary>
    public long InputPauseThreshold { get; set; } = 1024 * 1024;

    /// <summary>Unsent bytes the application may have written before its FlushAsync waits.</summary>
    public long OutputPauseThreshold { get; set; } = 1024 * 1024;

    /// <summary>Where the <c>Tou</c> meter comes from (<see cref="TouMetrics"/>): a host's <see cref="IMeterFactory"/>, so that
    /// its measurements are its own (<c>UseTou</c> and <c>AddTouConnectionFactory</c> set the host's when this is null);
    /// null records to one process-wide meter.</summary>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>Creates the exception an application sees when a connection ends abnormally; the Kestrel glue
    /// plugs in ConnectionResetException and ConnectionAbortedException.</summary>
    public Func<TouCloseReason, string, Exception> ExceptionFactory { get; set; } =
        static (reason, message) => new TouConnectionException(reason, message);

    /// <summary>Drive sockets with async receives and a millisecond timer even where I/O loop threads exist (tests of that
    /// path; the environment variable <c>TOU_PORTABLE_IO=1</c> does it process-wide).</summary>
    internal bool UsePortableIo { get; set; }

    /// <summary>Checks these settings and the engine's (<see cref="TouOptions.Validate"/>); binding an endpoint does this.</summary>
    /// <exception cref="ArgumentNullException"><see cref="Protocol"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Protocol, nameof(Protocol));
        Protocol.Validate();
        Require(SocketReceiveBufferSize >= 0, nameof(SocketReceiveBufferSize), "must not be negative (0 keeps the system default)");
        Require(SocketSendBufferSize >= 0, nameof(SocketSendBufferSize), "must not be negative (0 keeps the system default)");
        Require(InputPauseThreshold >= 1, nameof(InputPauseThreshold), "must be positive");
        Require(OutputPauseThreshold >= 1, nameof(OutputPauseThreshold), "must be positive");
        Require(ListenerShards is >= 0 and <= MaxListenerShards, nameof(ListenerShards), $"must be between 0 (one socket per processor) and {MaxListenerShards}");
    }

    private static void Require(bool condition, string name, string rule)
    {
        if (!condition)
        {
            throw new ArgumentOutOfRangeException(name, $"TouTransportOptions.{name} {rule}.");
        }
    }

    /// <summary>The sockets a listener opens: <see cref="ListenerShards"/>, its default resolved, 1 where SO_REUSEPORT does not spread load.</summary>
    internal int ResolveListenerShards() =>
        !ReusePort.IsSupported ? 1 : ListenerShards > 0 ? ListenerShards : Math.Clamp(Environment.ProcessorCount, 1, MaxListenerShards);

    /// <summary>A shallow copy whose engine settings carry <paramref name="secret"/>, for the shards of one listener.</summary>
    internal TouTransportOptions WithEndpointSecret(byte[] secret)
    {
        var copy = (TouTransportOptions)MemberwiseClone();
        copy.Protocol = Protocol.Clone();
        copy.Protocol.EndpointSecret = secret;
        return copy;
    }
}
