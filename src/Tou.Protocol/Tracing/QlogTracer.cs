using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Tou.Protocol.Wire;

namespace Tou.Protocol.Tracing;

/// <summary>
/// Writes one connection's qlog trace in JSON-SEQ form (RFC 7464: each record is RS, a JSON text, LF): a header record,
/// then events named as qlog's QUIC schema names them where the meaning carries over (transport:packet_sent,
/// recovery:metrics_updated, ...). Event names and fields: docs/tracing.md. Exists only while tracing is on.
/// </summary>
internal sealed class QlogTracer : IDisposable
{
    private const int FlushThreshold = 64 * 1024;
    private const byte RecordSeparator = 0x1E;

    private readonly TouConnection _connection;
    private readonly Stream _stream;
    private readonly long _startUs;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushThreshold * 2);
    private readonly Utf8JsonWriter _json;
    private long _lastUs;
    private long _retransmissionsSeen;
    private string _phase;
    private bool _phaseWritten;
    private (long Cwnd, long Srtt, long InFlight, long WindowLimit, long Acknowledged) _lastMetrics;

    public QlogTracer(TouConnection connection, Stream stream, long nowUs)
    {
        _connection = connection;
        _stream = stream;
        _startUs = nowUs;
        _lastUs = nowUs;
        _phase = connection.TracePhase;
        _json = new Utf8JsonWriter(_buffer);
        WriteHeader();
        StateChanged(nowUs);
    }

    /// <summary>A datagram the connection sent; <paramref name="retransmissions"/> is its running count, so a rise marks this one a retransmission.</summary>
    public void PacketSent(long nowUs, ReadOnlySpan<byte> datagram, long retransmissions)
    {
        bool retransmission = retransmissions > _retransmissionsSeen;
        _retransmissionsSeen = retransmissions;
        Packet(nowUs, "transport:packet_sent", datagram, sent: true, retransmission);
    }

    /// <summary>A datagram from the peer that passed the integrity check.</summary>
    public void PacketReceived(long nowUs, ReadOnlySpan<byte> datagram) => Packet(nowUs, "transport:packet_received", datagram, sent: false, retransmission: false);

    /// <summary>Segments the loss detector declared lost: <paramref name="trigger"/> is "ack" (RACK, duplicate ACKs) or "timeout".</summary>
    public void PacketsLost(long nowUs, long segments, long bytes, string trigger)
    {
        Begin(nowUs, "recovery:packet_lost");
        _json.WriteNumber("lost_segments", segments);
        if (bytes >= 0)
        {
            _json.WriteNumber("lost_bytes", bytes);
        }

        _json.WriteString("trigger", trigger);
        End();
    }

    /// <summary>The tail loss probe's timer expired and the probe goes out next (qlog's probe timeout, "pto").</summary>
    public void ProbeTimeoutExpired(long nowUs)
    {
        Begin(nowUs, "recovery:loss_timer_updated");
        _json.WriteString("timer_type", "pto");
        _json.WriteString("event_type", "expired");
        End();
    }

    /// <summary>After an ACK was processed: the recovery figures, written when one changed or an RTT sample was taken (-1: none).</summary>
    public void MetricsUpdated(long nowUs, long rttSampleUs)
    {
        var c = _connection;
        var now = (c.CongestionWindow, c.SmoothedRttUs, c.BytesInFlight, c.TraceWindowLimit, c.TraceAcknowledgedOffset);
        if (rttSampleUs < 0 && now == _lastMetrics)
        {
            return;
        }

        _lastMetrics = now;
        Begin(nowUs, "recovery:metrics_updated");
        if (rttSampleUs >= 0)
        {
            _json.WriteNumber("latest_rtt", rttSampleUs / 1000.0);
        }

        _json.WriteNumber("smoothed_rtt", c.SmoothedRttUs / 1000.0);
        _json.WriteNumber("min_rtt", c.TraceMinRttUs / 1000.0);
        _json.WriteNumber("rtt_variance", c.TraceRttVarianceUs / 1000.0);
        _json.WriteNumber("congestion_window", c.CongestionWindow);
        _json.WriteNumber("bytes_in_flight", c.BytesInFlight);
        _json.WriteNumber("pacing_rate", Math.Round(c.TracePacingRate));
        _json.WriteNumber("bytes_acknowledged", c.TraceAcknowledgedOffset);
        _json.WriteNumber("window_limit", c.TraceWindowLimit);
        End();
    }

    /// <summary>Writes a connection_state_updated event if the phase moved since the last one.</summary>
    public void StateChanged(long nowUs = -1)
    {
        string phase = _connection.TracePhase;
        if (phase == _phase && _phaseWritten)
        {
            return;
        }

        Begin(nowUs < 0 ? _lastUs : nowUs, "connectivity:connection_state_updated");
        if (phase != _phase)
        {
            _json.WriteString("old", _phase);
        }

        _json.WriteString("new", phase);
        if (_connection.CloseReason != TouCloseReason.None)
        {
            _json.WriteString("reason", _connection.CloseReason.ToString());
        }

        End();
        _phase = phase;
        _phaseWritten = true;
    }

    public void Dispose()
    {
        StateChanged();
        if (_phase != "closed")
        {
            // Disposed in TIME-WAIT (or before its end): for the trace the connection ends here.
            Begin(_lastUs, "connectivity:connection_state_updated");
            _json.WriteString("old", _phase);
            _json.WriteString("new", "closed");
            End();
        }

        Flush();
        _json.Dispose();
        _stream.Dispose();
    }

    private void Packet(long nowUs, string name, ReadOnlySpan<byte> datagram, bool sent, bool retransmission)
    {
        if (!TouHeader.TryRead(datagram, out var header))
        {
            return;
        }

        StateChanged(nowUs);
        var payload = datagram.Slice(TouHeader.Size, Math.Min(header.PayloadLength, datagram.Length - TouHeader.Size));
        var options = ReadOnlySpan<byte>.Empty;
        var data = payload;
        if (header.Has(TouFlags.Options) && !Extensions.TrySplitOptions(payload, out options, out data))
        {
            data = payload;
        }

        // A path MTU probe's payload is padding, never stream data.
        bool probe = !options.IsEmpty && PathMtuOptions.TryReadProbe(options, out _);
        if (probe)
        {
            data = default;
        }

        Begin(nowUs, name);
        _json.WriteStartObject("header");
        _json.WriteString("packet_type", probe ? "pmtu_probe" : PacketType(header.Flags, data.Length));
        _json.WriteNumber("packet_number", header.SequenceNumber);
        _json.WriteString("flags", TouHeader.FormatFlags(header.Flags));
        _json.WriteEndObject();
        _json.WriteStartObject("raw");
        _json.WriteNumber("length", datagram.Length);
        _json.WriteNumber("payload_length", data.Length);
        _json.WriteEndObject();
        if (_connection.TraceSynchronized && !header.Has(TouFlags.Syn))
        {
            WriteOffsets(header, options, data.Length, sent);
        }

        _json.WriteNumber("window", header.Window);
        if (retransmission)
        {
            _json.WriteBoolean("retransmission", true);
        }

        End();
    }

    /// <summary>Stream offsets: the segment's (in the sender's stream), the ACK's and SACK blocks' (in the other direction's).</summary>
    private void WriteOffsets(in TouHeader header, ReadOnlySpan<byte> options, int dataLength, bool sent)
    {
        if (dataLength > 0 || header.Has(TouFlags.Fin))
        {
            _json.WriteNumber("offset", sent ? _connection.TraceSendOffset(header.SequenceNumber) : _connection.TraceReceiveOffset(header.SequenceNumber));
        }

        if (!header.Has(TouFlags.Ack))
        {
            return;
        }

        _json.WriteNumber("ack_offset", sent ? _connection.TraceReceiveOffset(header.AcknowledgementNumber) : _connection.TraceSendOffset(header.AcknowledgementNumber));
        var blocks = options.IsEmpty ? default : Extensions.FindSackBlocks(options);
        if (blocks.Length < 8)
        {
            return;
        }

        _json.WriteStartArray("sack_ranges");
        for (int i = 0; i + 8 <= blocks.Length; i += 8)
        {
            uint start = BinaryPrimitives.ReadUInt32BigEndian(blocks[i..]);
            uint end = BinaryPrimitives.ReadUInt32BigEndian(blocks[(i + 4)..]);
            _json.WriteStartArray();
            _json.WriteNumberValue(sent ? _connection.TraceReceiveOffset(start) : _connection.TraceSendOffset(start));
            _json.WriteNumberValue(sent ? _connection.TraceReceiveOffset(end) : _connection.TraceSendOffset(end));
            _json.WriteEndArray();
        }

        _json.WriteEndArray();
    }

    private static string PacketType(TouFlags flags, int dataLength) =>
        (flags & (TouFlags.Syn | TouFlags.Ack)) == (TouFlags.Syn | TouFlags.Ack) ? "syn_ack"
        : (flags & TouFlags.Syn) != 0 ? "syn"
        : (flags & TouFlags.Rst) != 0 ? "rst"
        : dataLength > 0 ? "data"
        : (flags & TouFlags.Fin) != 0 ? "fin"
        : (flags & TouFlags.Ping) != 0 ? "ping"
        : "ack";

    private void WriteHeader()
    {
        _buffer.Write([RecordSeparator]);
        _json.Reset(_buffer);
        _json.WriteStartObject();
        _json.WriteString("qlog_version", "0.3");
        _json.WriteString("qlog_format", "JSON-SEQ");
        _json.WriteString("title", string.Create(CultureInfo.InvariantCulture, $"TOU connection {_connection.Id}"));
        _json.WriteStartObject("trace");
        _json.WriteStartObject("vantage_point");
        _json.WriteString("type", _connection.IsClient ? "client" : "server");
        _json.WriteEndObject();
        _json.WriteStartObject("common_fields");
        _json.WriteString("protocol_type", "TOU");
        _json.WriteString("time_format", "relative");
        _json.WriteNumber("reference_time", _startUs / 1000.0);
        _json.WriteString("group_id", _connection.Id.ToString(CultureInfo.InvariantCulture));
        _json.WriteEndObject();
        _json.WriteString("remote", RemoteText());
        _json.WriteEndObject();
        End();
    }

    private string RemoteText()
    {
        try
        {
            var any = _connection.RemoteAddress.Family == System.Net.Sockets.AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
            return new IPEndPoint(any, 0).Create(_connection.RemoteAddress).ToString() ?? "";
        }
        catch (ArgumentException)
        {
            return ""; // not an IP address (a simulator's own kind)
        }
    }

    private void Begin(long nowUs, string name)
    {
        _lastUs = Math.Max(_lastUs, nowUs);
        _buffer.Write([RecordSeparator]);
        _json.Reset(_buffer);
        _json.WriteStartObject();
        _json.WriteNumber("time", (nowUs - _startUs) / 1000.0);
        _json.WriteString("name", name);
        _json.WriteStartObject("data");
    }

    private void End()
    {
        if (_json.CurrentDepth == 2)
        {
            _json.WriteEndObject(); // data
        }

        _json.WriteEndObject();
        _json.Flush();
        _buffer.Write("\n"u8);
        if (_buffer.WrittenCount >= FlushThreshold)
        {
            Flush();
        }
    }

    private void Flush()
    {
        _stream.Write(_buffer.WrittenSpan);
        _buffer.ResetWrittenCount();
        _stream.Flush();
    }
}
