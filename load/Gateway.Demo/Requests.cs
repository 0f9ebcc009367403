using System.Globalization;
using System.Net.Http.Headers;
using Gateway.Perf;

namespace Gateway.Demo;

/// <summary>One infer request the demo sends again and again: a model, a body and how it is encoded.</summary>
internal sealed class InferRequest
{
    private static readonly MediaTypeHeaderValue s_json = new("application/json");
    private static readonly MediaTypeHeaderValue s_binary = new("application/octet-stream");
    private readonly byte[] _body;
    private readonly string? _headerLength;

    private InferRequest(string model, string label, byte[] body, int headerLength)
    {
        Model = model;
        Label = label;
        _body = body;
        _headerLength = headerLength > 0 ? headerLength.ToString(CultureInfo.InvariantCulture) : null;
    }

    public string Model { get; }

    /// <summary>Reads like <c>mobilenet_v2 (binary)</c>.</summary>
    public string Label { get; }

    public string Path => $"/v2/models/{Model}/infer";

    public static InferRequest Json(string fixtures, string model) =>
        new(model, $"{model} (JSON)", Samples.JsonBody(Samples.Load(fixtures, model, 0)), 0);

    public static InferRequest Binary(string fixtures, string model)
    {
        var (body, headerLength) = Samples.BinaryBody(Samples.Load(fixtures, model, 0));
        return new(model, $"{model} (binary)", body, headerLength);
    }

    public HttpRequestMessage Create()
    {
        var content = new ByteArrayContent(_body);
        content.Headers.ContentType = _headerLength is null ? s_json : s_binary;
        if (_headerLength is not null)
        {
            content.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", _headerLength);
        }

        return new HttpRequestMessage(HttpMethod.Post, Path) { Content = content };
    }
}
