using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace Tou.Transport;

/// <summary>
/// Sends what a <see cref="IDatagramSource"/> produces on one UDP socket with as few system calls as the kernel
/// allows: with UDP GSO, consecutive datagrams to one destination with one size (the last may be shorter) leave in
/// one <c>sendmsg</c> and the kernel cuts them apart; without it, one datagram per call. A batch stays under 64 KB in
/// all, so datagrams over half that size (path MTU discovery on loopback reaches 64 KB) go one per call. Buffers come
/// from the pool for one flush, so an idle sender holds none. Single-owner, like the endpoint that drives it.
/// </summary>
internal sealed class UdpDatagramSender
{
    private const int MaxGsoSegments = 44;  // stays under 64 KiB with 1,452-byte datagrams
    private const int MaxGsoBytes = 64_000;

    private readonly Socket _socket;
    private readonly int _datagramBufferSize;
    private readonly Action<SocketAddress, SocketException, int> _onError;
    private readonly TouInstruments _metrics;
    private bool _gsoEnabled;
    private int _gsoSegment;

    /// <param name="datagramBufferSize">Room for the largest datagram the source writes.</param>
    /// <param name="onError">Called with a failed send's destination, error and datagram length; the datagram is lost
    /// like any other. (A GSO batch the kernel refuses as too large is sent again one datagram at a time, so each
    /// oversized datagram is reported with its own length.)</param>
    /// <param name="metrics">Where datagrams and bytes sent are counted; the process-wide <c>Tou</c> meter if null.</param>
    public UdpDatagramSender(Socket socket, bool useGso, int datagramBufferSize, Action<SocketAddress, SocketException, int> onError, TouInstruments? metrics = null)
    {
        _metrics = metrics ?? TouInstruments.Shared;
        _socket = socket;
        _gsoEnabled = useGso && UdpOffload.IsSupported;
        _datagramBufferSize = datagramBufferSize;
        _onError = onError;
    }

    /// <summary>Whether batches go out with GSO (false from the first time the kernel refuses it).</summary>
    public bool GsoEnabled => _gsoEnabled;

    /// <summary>The address the socket is connected to, if it is: datagrams to it go without one, which spares the kernel
    /// a route lookup per call.</summary>
    public SocketAddress? ConnectedTo { get; set; }

    /// <summary>System calls made so far (for tests and figures).</summary>
    public long SendCalls { get; private set; }

    /// <summary>Datagrams sent so far.</summary>
    public long DatagramsSent { get; private set; }

    /// <summary>Sends everything the source has now.</summary>
    public void Flush<TSource>(TSource source)
        where TSource : struct, IDatagramSource
    {
        // Buffers come from the pool for the flush only, so an idle sender holds none.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_gsoEnabled ? 2 * (MaxGsoBytes + _datagramBufferSize) : _datagramBufferSize);
        try
        {
            if (_gsoEnabled)
            {
                FlushBatched(source, buffer);
                return;
            }

            int length;
            while ((length = source.Next(buffer.AsSpan(0, _datagramBufferSize), out var destination)) > 0)
            {
                Send(buffer.AsSpan(0, length), destination!, segmentSize: 0);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void FlushBatched<TSource>(TSource source, byte[] buffer)
        where TSource : struct, IDatagramSource
    {
        // The source writes each datagram right after the last, so a batch needs no copy; a datagram that cannot join
        // the batch before it starts the next one where it lies (no copy either: with 64 KB datagrams that is most).
        int start = 0, batchBytes = 0, segment = 0, count = 0;
        SocketAddress? batchDestination = null;
        while (true)
        {
            if (count > 0 && buffer.Length - (start + batchBytes) < _datagramBufferSize)
            {
                Send(buffer.AsSpan(start, batchBytes), batchDestination!, count > 1 ? segment : 0); // no room for another
                start = batchBytes = count = 0;
            }

            int n = source.Next(buffer.AsSpan(start + batchBytes), out var destination);
            if (n == 0)
            {
                break;
            }

            bool joins = count > 0 && n <= segment && count < MaxGsoSegments && destination!.Equals(batchDestination)
                && batchBytes + n <= MaxGsoBytes;
            if (joins)
            {
                batchBytes += n;
                count++;
                if (n < segment)
                {
                    Send(buffer.AsSpan(start, batchBytes), batchDestination!, segment); // a shorter datagram ends a batch
                    start = batchBytes = count = 0;
                }
            }
            else
            {
                if (count > 0)
                {
                    Send(buffer.AsSpan(start, batchBytes), batchDestination!, count > 1 ? segment : 0);
                    start += batchBytes;
                }

                batchBytes = n;
                segment = n;
                count = 1;
                batchDestination = destination;
            }
        }

        if (count > 0)
        {
            Send(buffer.AsSpan(start, batchBytes), batchDestination!, count > 1 ? segment : 0);
        }
    }

    /// <summary>Sends one datagram, or with <paramref name="segmentSize"/> &gt; 0 a GSO batch of them.</summary>
    private void Send(ReadOnlySpan<byte> data, SocketAddress destination, int segmentSize)
    {
        try
        {
            // UDP_SEGMENT is a socket option here (.NET sends no control messages), so it must never be smaller
            // than a lone datagram about to go out, or the kernel would cut that datagram in two.
            int wanted = segmentSize > 0 ? segmentSize : 0;
            if (_gsoEnabled && wanted != _gsoSegment && (wanted > 0 || data.Length > _gsoSegment))
            {
                SetGsoSegment(wanted);
            }

            if (ConnectedTo is { } connected && destination.Equals(connected))
            {
                _socket.Send(data, SocketFlags.None);
            }
            else
            {
                _socket.SendTo(data, SocketFlags.None, destination);
            }

            int datagrams = segmentSize > 0 ? (data.Length + segmentSize - 1) / segmentSize : 1;
            SendCalls++;
            DatagramsSent += datagrams;
            _metrics.DatagramsSent(datagrams, data.Length);
        }
        catch (SocketException ex) when (segmentSize > 0 && ex.SocketErrorCode is SocketError.MessageSize or SocketError.InvalidArgument)
        {
            // The kernel refused the batch as a whole (a segment too large for the interface): one by one, without the
            // segment size (the kernel refuses every send while it exceeds the interface), so that each datagram that is
            // too large is reported with its own length and the others still leave.
            SetGsoSegment(0);
            for (int offset = 0; offset < data.Length; offset += segmentSize)
            {
                Send(data.Slice(offset, Math.Min(segmentSize, data.Length - offset)), destination, segmentSize: 0);
            }
        }
        catch (SocketException ex)
        {
            _onError(destination, ex, segmentSize > 0 ? segmentSize : data.Length);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void SetGsoSegment(int size)
    {
        if (UdpOffload.TrySetGsoSegment(_socket, size))
        {
            _gsoSegment = size;
        }
        else
        {
            _gsoEnabled = false; // the kernel has no UDP GSO: one datagram per call from now on
            _gsoSegment = 0;
        }
    }
}
