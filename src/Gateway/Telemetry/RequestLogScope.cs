using System.Collections;
using System.Diagnostics;

namespace Gateway.Telemetry;

/// <summary>
/// The logging scope of one HTTP request: <c>correlation_id</c>, <c>trace_id</c> and
/// <c>span_id</c>, which the JSON console formatter and the OTLP log exporter write on every line
/// logged while the request runs. The ids are read from the span current when a line is written
/// (falling back to the request's own), and turned into text only then.
/// </summary>
internal sealed class RequestLogScope(string correlationId, Activity? request) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string CorrelationKey = "correlation_id";
    public const string TraceKey = "trace_id";
    public const string SpanKey = "span_id";

    public int Count => 3;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new(CorrelationKey, correlationId),
        1 => new(TraceKey, (Activity.Current ?? request)?.TraceId.ToHexString()),
        2 => new(SpanKey, (Activity.Current ?? request)?.SpanId.ToHexString()),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"correlation_id:{correlationId}";
}
