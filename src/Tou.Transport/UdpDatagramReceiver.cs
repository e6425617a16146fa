using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Interop = Tou.Transport.LinuxSocketInterop;

namespace Tou.Transport;

/// <summary>
/// Receives on one UDP socket with as few system calls as the kernel allows, and holds no buffer while idle:
/// <see cref="WaitAsync"/> waits for a datagram with a one-byte peek, then <see cref="Drain"/> takes a buffer from
/// <see cref="ReceiveBufferPool"/> for as long as it takes what is queued. On Linux one <c>recvmmsg</c> takes many datagrams, and with UDP GRO each of
/// them may be a run of datagrams the kernel coalesced, split here by the segment size the kernel reports.
/// Elsewhere, non-blocking receives until the queue is empty. Single-owner, like the endpoint that drives it.
/// </summary>
internal sealed class UdpDatagramReceiver
{
    /// <summary>The segment size handed with a buffer GRO may have coalesced without saying how (portable path).</summary>
    public const int UnknownSegmentSize = -1;

    private const int GroBufferSize = 65_536;  // a coalesced buffer never exceeds an IP packet, and a shorter one would be truncated
    private const int MaxSlots = 64;           // datagrams per recvmmsg without GRO

    // The readiness peek copies one byte that nobody reads, so every socket shares it.
    private static readonly byte[] s_peekBuffer = new byte[1];

    private readonly Socket _socket;
    private readonly SafeHandle _handle;
    private readonly SocketAddress _source;
    private readonly int _slotSize;
    private readonly int _slots;
    private bool _batched;
    private bool _moreQueued; // the last drain stopped at its bound, not at an empty queue
    private int _buffersHeld;

    /// <param name="useGro">Ask the kernel to coalesce datagrams (UDP_GRO) where it can.</param>
    /// <param name="datagramBufferSize">Room for the largest datagram expected; a larger one arrives truncated.</param>
    /// <param name="useRecvmmsg">False takes the portable path even on Linux (tests).</param>
    public UdpDatagramReceiver(Socket socket, bool useGro, int datagramBufferSize, bool useRecvmmsg = true)
    {
        _socket = socket;
        _handle = socket.SafeHandle;
        GroEnabled = useGro && UdpOffload.TryEnableGro(socket);
        _slotSize = GroEnabled ? Math.Max(GroBufferSize, datagramBufferSize) : datagramBufferSize;
        _slots = Math.Clamp(ReceiveBufferPool.BufferSize / _slotSize, 1, MaxSlots);
        _source = new SocketAddress(socket.AddressFamily);
        _batched = useRecvmmsg && OperatingSystem.IsLinux();
        if (!_batched)
        {
            UsePortableReceives();
        }
    }

    /// <summary>Whether the kernel coalesces datagrams for this socket.</summary>
    public bool GroEnabled { get; }

    /// <summary>Whether receives go through <c>recvmmsg</c> (false: one .NET receive per datagram).</summary>
    public bool Batched => _batched;

    /// <summary>Receive system calls made so far, the readiness peeks not counted (for tests and figures).</summary>
    public long ReceiveCalls { get; private set; }

    /// <summary>Datagrams handed to sinks so far (a coalesced buffer of unknown segment size counts once).</summary>
    public long DatagramsReceived { get; private set; }

    /// <summary>Rented buffers held now: 1 during a drain, 0 between drains.</summary>
    public int BuffersHeld => _buffersHeld;

    /// <summary>
    /// Completes when a datagram is queued, consuming nothing. The wait holds no receive buffer: a peek into one
    /// shared byte, which Linux answers with the first byte and a truncation flag. After a drain that stopped at
    /// its bound it completes at once, without the peek.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (_moreQueued)
        {
            return;
        }

        try
        {
            await _socket.ReceiveAsync(s_peekBuffer, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.MessageSize)
        {
            // Windows reports a peek shorter than the datagram as this error; the datagram is there all the same.
        }
    }

    /// <summary>
    /// Hands what is queued now to <paramref name="sink"/>, without waiting, until the queue is empty or at least
    /// <paramref name="maxDatagrams"/> were handed (a batch is not cut, so a few more may be). Returns how many.
    /// </summary>
    /// <exception cref="SocketException">The socket reported an error; datagrams handed before it stay handed.</exception>
    public int Drain<TSink>(TSink sink, int maxDatagrams)
        where TSink : struct, IDatagramSink
    {
        long start = DatagramsReceived;
        _moreQueued = false;

        // The buffer comes from the pool for the drain only, so an idle socket holds none.
        byte[] buffer = ReceiveBufferPool.Rent();
        _buffersHeld++;
        try
        {
            if (!_batched || !DrainBatched(buffer, ref sink, start + maxDatagrams))
            {
                DrainPortable(buffer, ref sink, start + maxDatagrams);
            }
        }
        finally
        {
            _buffersHeld--;
            ReceiveBufferPool.Return(buffer);
        }

        int handed = (int)(DatagramsReceived - start);
        _moreQueued = handed >= maxDatagrams;
        return handed;
    }

    /// <summary>Drains with <c>recvmmsg</c>; false when this system has none (then never again).</summary>
    private bool DrainBatched<TSink>(byte[] buffer, ref TSink sink, long until)
        where TSink : struct, IDatagramSink
    {
        while (DatagramsReceived < until)
        {
            int wanted = (int)Math.Min(_slots, until - DatagramsReceived);
            int received;
            try
            {
                received = ReceiveBatch(buffer, wanted, ref sink);
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                ReceiveCalls--; // the call never reached the kernel
                UsePortableReceives();
                return false;
            }

            if (received < wanted)
            {
                break; // fewer than asked: the queue is empty
            }
        }

        return true;
    }

    /// <summary>One <c>recvmmsg</c> into <paramref name="count"/> slots of <paramref name="buffer"/>; hands what came.</summary>
    [SkipLocalsInit] // every header field is written before the call; the kernel fills names and control data
    private unsafe int ReceiveBatch<TSink>(byte[] buffer, int count, ref TSink sink)
        where TSink : struct, IDatagramSink
    {
        var messages = stackalloc Interop.MMsgHdr[count];
        var vectors = stackalloc Interop.IoVec[count];
        byte* names = stackalloc byte[count * Interop.SockaddrStorageSize];
        byte* controls = stackalloc byte[count * Interop.ControlSize];
        fixed (byte* data = buffer)
        {
            for (int i = 0; i < count; i++)
            {
                vectors[i] = new Interop.IoVec { Base = data + (i * _slotSize), Length = (nuint)_slotSize };
                messages[i] = new Interop.MMsgHdr
                {
                    Header = new Interop.MsgHdr
                    {
                        Name = names + (i * Interop.SockaddrStorageSize),
                        NameLength = Interop.SockaddrStorageSize,
                        Iov = vectors + i,
                        IovLength = 1,
                        Control = controls + (i * Interop.ControlSize),
                        ControlLength = Interop.ControlSize,
                    },
                };
            }

            ReceiveCalls++;
            int received = Interop.ReceiveMany(_handle, messages, count);
            for (int i = 0; i < received; i++)
            {
                ref var header = ref messages[i].Header;
                SetSource(header.Name, header.NameLength);
                int segment = Interop.GroSegmentSize(header.Control, header.ControlLength);
                Deliver(new ReadOnlySpan<byte>(header.Iov->Base, (int)Math.Min(messages[i].Length, (uint)_slotSize)), segment, ref sink);
            }

            return received;
        }
    }

    private unsafe void SetSource(byte* name, uint length)
    {
        var target = _source.Buffer.Span;
        int size = (int)Math.Min(length, (uint)target.Length);
        new ReadOnlySpan<byte>(name, size).CopyTo(target);
        _source.Size = size;
    }

    /// <summary>Hands a received buffer on, cut at the kernel's segment size when it coalesced several datagrams.</summary>
    private void Deliver<TSink>(ReadOnlySpan<byte> data, int segment, ref TSink sink)
        where TSink : struct, IDatagramSink
    {
        if (segment <= 0 || segment >= data.Length)
        {
            DatagramsReceived++;
            sink.OnDatagram(data, _source, Math.Max(segment, 0));
            return;
        }

        for (int offset = 0; offset < data.Length; offset += segment)
        {
            DatagramsReceived++;
            sink.OnDatagram(data.Slice(offset, Math.Min(segment, data.Length - offset)), _source, segment);
        }
    }

    /// <summary>Non-blocking .NET receives until the socket has nothing more (one exception per drain, none per datagram).</summary>
    private void DrainPortable<TSink>(byte[] buffer, ref TSink sink, long until)
        where TSink : struct, IDatagramSink
    {
        var slot = buffer.AsSpan(0, _slotSize);
        while (DatagramsReceived < until)
        {
            int received;
            ReceiveCalls++;
            try
            {
                received = _socket.ReceiveFrom(slot, SocketFlags.None, _source);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
            {
                return;
            }

            DatagramsReceived++;
            sink.OnDatagram(slot[..received], _source, GroEnabled ? UnknownSegmentSize : 0);
        }
    }

    private void UsePortableReceives()
    {
        // Lets a receive report an empty queue instead of waiting. Sends on this socket become non-blocking too:
        // a full send buffer then loses the datagram (repaired like any loss) where it would have waited.
        _batched = false;
        _socket.Blocking = false;
    }
}
