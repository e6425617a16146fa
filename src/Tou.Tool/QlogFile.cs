using System.Text.Json;

namespace Tou.Tool;

/// <summary>Reads and checks a qlog trace in JSON-SEQ form (RFC 7464): RS before each record, LF after, a header record first.</summary>
internal sealed class QlogFile
{
    private const byte RecordSeparator = 0x1E;

    private QlogFile(JsonElement header, List<QlogEvent> events)
    {
        Header = header;
        Events = events;
    }

    public JsonElement Header { get; }

    public IReadOnlyList<QlogEvent> Events { get; }

    /// <summary>"client" or "server": which side wrote the trace.</summary>
    public string VantagePoint => Header.GetProperty("trace").GetProperty("vantage_point").GetProperty("type").GetString() ?? "";

    public string Title => Header.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";

    /// <summary>Parses <paramref name="bytes"/>; throws <see cref="InvalidDataException"/> naming the first record that breaks the form.</summary>
    public static QlogFile Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty || bytes[0] != RecordSeparator)
        {
            throw new InvalidDataException("not JSON-SEQ: the file does not start with the record separator (0x1E)");
        }

        JsonElement? header = null;
        var events = new List<QlogEvent>();
        int record = 0;
        foreach (var range in bytes[1..].Split(RecordSeparator))
        {
            record++;
            var text = bytes[1..][range];
            if (text.IsEmpty || text[^1] != (byte)'\n')
            {
                throw new InvalidDataException($"record {record}: not ended by a newline");
            }

            JsonElement element;
            try
            {
                element = JsonDocument.Parse(text.ToArray()).RootElement;
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"record {record}: not JSON ({ex.Message})", ex);
            }

            if (header is null)
            {
                header = element.TryGetProperty("qlog_format", out var format) && format.GetString() == "JSON-SEQ"
                    ? element
                    : throw new InvalidDataException("record 1: not a qlog JSON-SEQ header (qlog_format)");
                continue;
            }

            if (!element.TryGetProperty("time", out var time) || time.ValueKind != JsonValueKind.Number
                || !element.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
                || !element.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"record {record}: an event needs time (number), name (string) and data (object)");
            }

            events.Add(new QlogEvent(time.GetDouble(), name.GetString()!, data));
        }

        return header is { } h ? new QlogFile(h, events) : throw new InvalidDataException("empty trace");
    }

    public static QlogFile Read(string path) => Parse(File.ReadAllBytes(path));
}
