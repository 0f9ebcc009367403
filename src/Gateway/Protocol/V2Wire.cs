using System.Text.Json.Serialization;

namespace Gateway.Protocol;

/// <summary><c>GET /v2</c>.</summary>
internal sealed class ServerMetadataResponse
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("version")]
    public required string Version { get; init; }

    [JsonPropertyName("extensions")]
    public required string[] Extensions { get; init; }
}

/// <summary><c>GET /v2/models/{m}[/versions/{v}]</c>.</summary>
internal sealed class ModelMetadataResponse
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("versions")]
    public required string[] Versions { get; init; }

    [JsonPropertyName("platform")]
    public required string Platform { get; init; }

    [JsonPropertyName("inputs")]
    public required TensorMetadata[] Inputs { get; init; }

    [JsonPropertyName("outputs")]
    public required TensorMetadata[] Outputs { get; init; }
}

/// <summary>One tensor of the model metadata.</summary>
internal sealed class TensorMetadata
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("datatype")]
    public required string DataType { get; init; }

    [JsonPropertyName("shape")]
    public required long[] Shape { get; init; }
}

/// <summary>Every error body: <c>{"error": "..."}</c>.</summary>
internal sealed class ErrorResponse
{
    [JsonPropertyName("error")]
    public required string Error { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ServerMetadataResponse))]
[JsonSerializable(typeof(ModelMetadataResponse))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class V2JsonContext : JsonSerializerContext;
