using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Tou.Kestrel;

/// <summary>HttpClient over TOU: <c>TouHttp.CreateClient()</c> or a handler for your own client.</summary>
public static class TouHttp
{
    /// <summary>
    /// A <see cref="SocketsHttpHandler"/> whose connections go over TOU. HTTP/1.1 as usual; HTTP/2 over
    /// plain text with prior knowledge when the request asks for version 2.0 exactly; TLS (with ALPN) as usual for https.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(TouConnectionFactory? factory = null)
    {
        factory ??= new TouConnectionFactory();
        return new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var connection = await factory.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                return new ConnectionStream(connection);
            },
        };
    }

    /// <summary>An <see cref="HttpClient"/> whose connections go over TOU.</summary>
    public static HttpClient CreateClient(Uri? baseAddress = null, TouConnectionFactory? factory = null) =>
        new(CreateHandler(factory), disposeHandler: true) { BaseAddress = baseAddress };

    /// <summary>A stream over a <see cref="ConnectionContext"/>'s pipes that disposes the connection with it.</summary>
    public static Stream AsStream(this ConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return new ConnectionStream(connection);
    }

    private sealed class ConnectionStream(ConnectionContext connection) : Stream
    {
        private readonly Stream _input = connection.Transport.Input.AsStream(leaveOpen: true);
        private readonly PipeWriter _output = connection.Transport.Output;
        private int _disposed;

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _input.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var result = await _output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted)
            {
                throw new IOException("The TOU connection can no longer send.");
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => FlushAsync().GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            await base.DisposeAsync().ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                // No blocking on async work here (HttpClient disposes from its cancellation callback): the close itself
                // happens synchronously inside DisposeAsync; what may remain is closing the connection's own socket.
                var closing = connection.DisposeAsync();
                if (!closing.IsCompleted)
                {
                    _ = closing.AsTask().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                }
            }

            base.Dispose(disposing);
        }
    }
}
