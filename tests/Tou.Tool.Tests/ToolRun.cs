using System.Text;

namespace Tou.Tool.Tests;

/// <summary>Runs `tou` in-process with captured output, as a shell would see it: exit code, stdout text and bytes, stderr.</summary>
internal sealed class ToolRun
{
    public int ExitCode { get; private init; }

    public string Out { get; private init; } = "";

    public string Error { get; private init; } = "";

    public byte[] Stdout { get; private init; } = [];

    public static async Task<ToolRun> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var stdout = new MemoryStream();
        var console = new ToolConsole(TextWriter.Synchronized(output), TextWriter.Synchronized(error), () => new KeepOpenStream(stdout), errorIsTerminal: false);
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // a hang fails the test instead of the run
        int code = await TouCli.RunAsync(args, console, limit.Token);
        return new ToolRun { ExitCode = code, Out = output.ToString(), Error = error.ToString(), Stdout = stdout.ToArray() };
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}{Encoding.UTF8.GetString(Stdout)}\nstderr:\n{Error}";

    /// <summary>The command disposes what it writes the body to; the test still wants to read it.</summary>
    private sealed class KeepOpenStream(MemoryStream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }
}
