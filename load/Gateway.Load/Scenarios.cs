using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Grpc.V2;
using Gateway.Perf;
using Grpc.Net.Client;

namespace Gateway.Load;

/// <summary>One kind of request sent again and again: method, path and body.</summary>
internal sealed class Scenario
{
    private readonly byte[] _body;
    private readonly MediaTypeHeaderValue? _contentType;
    private readonly string? _headerLength;

    private Scenario(string name, string description, HttpMethod method, string path, byte[] body, string? contentType, int headerLength, int images)
    {
        Name = name;
        Description = description;
        Method = method;
        Path = path;
        _body = body;
        _contentType = contentType is null ? null : new MediaTypeHeaderValue(contentType);
        _headerLength = headerLength > 0 ? headerLength.ToString(CultureInfo.InvariantCulture) : null;
        ImagesPerRequest = images;
    }

    public string Name { get; }

    /// <summary>Reads like <c>POST /v2/models/identity/infer (JSON, 1x16 FP32)</c>.</summary>
    public string Description { get; }

    public HttpMethod Method { get; }

    public string Path { get; }

    /// <summary>The binary extension's <c>Inference-Header-Content-Length</c>; null for other bodies.</summary>
    public string? HeaderLength => _headerLength;

    /// <summary>The request body; empty for GET.</summary>
    public ReadOnlyMemory<byte> Body => _body;

    /// <summary>Images carried by one request, for images/s; 0 when the figure means nothing.</summary>
    public int ImagesPerRequest { get; }

    /// <summary>For grpc-* scenarios: the ModelInfer request sent over gRPC instead of HTTP.</summary>
    public ModelInferRequest? GrpcRequest { get; private init; }

    public static Scenario Get() =>
        new("get", "GET /v2/health/live (constant, no body)", HttpMethod.Get, "/v2/health/live", [], null, 0, 0);

    public static Scenario Json(string name, Sample sample) =>
        new(name, $"POST /v2/models/{sample.Model}/infer, JSON {sample.Inputs[0]}", HttpMethod.Post, $"/v2/models/{sample.Model}/infer", Samples.JsonBody(sample), "application/json", 0, 0);

    public static Scenario Binary(string name, Sample sample, int images, string? model = null)
    {
        var (body, headerLength) = Samples.BinaryBody(sample);
        model ??= sample.Model;
        return new(name, $"POST /v2/models/{model}/infer, binary {sample.Inputs[0]}, binary output", HttpMethod.Post, $"/v2/models/{model}/infer", body, "application/octet-stream", headerLength, images);
    }

    /// <summary>ModelInfer over gRPC with <c>raw_input_contents</c> (outputs come back raw).</summary>
    public static Scenario Grpc(string name, Sample sample, int images) =>
        new(name, $"gRPC ModelInfer {sample.Model}, raw {sample.Inputs[0]}, raw output", HttpMethod.Post, "/inference.GRPCInferenceService/ModelInfer", [], null, 0, images)
        {
            GrpcRequest = GrpcSamples.Request(sample),
        };

    /// <summary>Checks one gRPC answer before a run: OK and some outputs.</summary>
    public async Task<string?> CheckGrpcAsync(Uri address)
    {
        using var channel = GrpcChannel.ForAddress(address);
        try
        {
            var response = await new GRPCInferenceService.GRPCInferenceServiceClient(channel).ModelInferAsync(GrpcRequest!);
            return response.RawOutputContents.Count > 0 ? null : $"{Name}: the gRPC response has no outputs";
        }
        catch (global::Grpc.Core.RpcException ex)
        {
            return $"{Name}: ModelInfer on {address} failed: {ex.Status}";
        }
    }

    public HttpRequestMessage CreateRequest()
    {
        var request = new HttpRequestMessage(Method, Path);
        if (_body.Length > 0)
        {
            var content = new ByteArrayContent(_body);
            content.Headers.ContentType = _contentType;
            if (_headerLength is not null)
            {
                content.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", _headerLength);
            }

            request.Content = content;
        }

        return request;
    }

    /// <summary>Checks one answer before a run: 200, and for infer a JSON part that has outputs.</summary>
    public async Task<string?> CheckAsync(HttpClient client)
    {
        using var request = CreateRequest();
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        if ((int)response.StatusCode != 200)
        {
            return $"{Name}: {Method} {Path} answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body)}";
        }

        if (Method == HttpMethod.Get)
        {
            return null;
        }

        var jsonLength = body.Length;
        if (response.Headers.TryGetValues("Inference-Header-Content-Length", out var values)
            || response.Content.Headers.TryGetValues("Inference-Header-Content-Length", out values))
        {
            jsonLength = int.Parse(values.First(), CultureInfo.InvariantCulture);
        }

        using var json = JsonDocument.Parse(body.AsMemory(0, jsonLength));
        return json.RootElement.TryGetProperty("outputs", out var outputs) && outputs.GetArrayLength() > 0
            ? null
            : $"{Name}: the infer response has no outputs: {System.Text.Encoding.UTF8.GetString(body, 0, jsonLength)}";
    }
}

/// <summary>The scenarios the runner knows, by name.</summary>
internal static class ScenarioCatalog
{
    public static readonly string[] Names = ["get", "json-identity", "binary-identity", "binary-mobilenet", "binary-mobilenet-batched", "grpc-binary-identity", "grpc-mobilenet"];

    /// <summary>The model a scenario needs in the repository, or null.</summary>
    public static string? ModelOf(string name) => name switch
    {
        "json-identity" or "binary-identity" or "grpc-binary-identity" => "identity",
        "binary-mobilenet" or "grpc-mobilenet" => "mobilenet_v2",
        "binary-mobilenet-batched" => "mobilenet_v2" + Samples.BatchedSuffix,
        _ => null,
    };

    public static Scenario Create(string name, string fixtures) => name switch
    {
        "get" => Scenario.Get(),
        "json-identity" => Scenario.Json(name, Samples.Load(fixtures, "identity", 0)),
        "binary-identity" => Scenario.Binary(name, Samples.Load(fixtures, "identity", 0), 0),
        "binary-mobilenet" => Scenario.Binary(name, Samples.Load(fixtures, "mobilenet_v2", 0), 1),
        "binary-mobilenet-batched" => Scenario.Binary(name, Samples.Load(fixtures, "mobilenet_v2", 0), 1, "mobilenet_v2" + Samples.BatchedSuffix),
        "grpc-binary-identity" => Scenario.Grpc(name, Samples.Load(fixtures, "identity", 0), 0),
        "grpc-mobilenet" => Scenario.Grpc(name, Samples.Load(fixtures, "mobilenet_v2", 0), 1),
        _ => throw new ArgumentException($"unknown scenario {name}", nameof(name)),
    };
}
