namespace Tou.Tool;

/// <summary>Which way a perf test's data flows (the client's view).</summary>
internal enum PerfMode : byte
{
    /// <summary>The client sends (iperf3's default).</summary>
    Upload = 0,

    /// <summary>The server sends (<c>--reverse</c>).</summary>
    Download = 1,

    /// <summary>Both send at once (<c>--bidir</c>).</summary>
    Both = 2,
}
