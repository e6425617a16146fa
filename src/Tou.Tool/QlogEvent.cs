using System.Text.Json;

namespace Tou.Tool;

/// <summary>One event of a qlog trace: time in ms from the trace's reference time, name, data.</summary>
internal sealed record QlogEvent(double Time, string Name, JsonElement Data)
{
    public long Long(string field, long fallback = -1) => Data.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : fallback;

    public double Double(string field, double fallback = double.NaN) => Data.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;

    public bool Flag(string field) => Data.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.True;

    public long Raw(string field) => Data.TryGetProperty("raw", out var raw) && raw.TryGetProperty(field, out var v) ? v.GetInt64() : -1;

    public string PacketType => Data.TryGetProperty("header", out var h) && h.TryGetProperty("packet_type", out var t) ? t.GetString() ?? "" : "";
}
