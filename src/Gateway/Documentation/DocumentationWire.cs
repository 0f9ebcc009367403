using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Documentation;

// Shapes the OpenAPI document describes where the gateway reads or writes JSON by hand (the infer
// parser and writer, the health view) rather than through a serialised type. They are never used
// on the request path; the tests check them against what the handlers really send and accept.

/// <summary>The JSON of <c>POST /v2/models/{model}/infer</c> (or its JSON header, with the binary extension).</summary>
[Description("An inference request (Open Inference Protocol). With the binary tensor extension this is the JSON header; the tensors' bytes follow it.")]
internal sealed class InferRequestBody
{
    [JsonPropertyName("id")]
    [Description("Optional; echoed in the response.")]
    public string? Id { get; init; }

    [JsonPropertyName("parameters")]
    public InferRequestParameters? Parameters { get; init; }

    [JsonPropertyName("inputs")]
    [Description("Every input of the model, once each, in any order.")]
    public required InferInputTensor[] Inputs { get; init; }

    [JsonPropertyName("outputs")]
    [Description("Outputs wanted; without it every output is returned, in the model's order.")]
    public InferRequestedOutput[]? Outputs { get; init; }
}

/// <summary>Request-level parameters.</summary>
[Description("Request-level parameters.")]
internal sealed class InferRequestParameters
{
    [JsonPropertyName("binary_data_output")]
    [Description("Return every output as raw bytes after the JSON (binary tensor extension); an output's own binary_data wins.")]
    public bool? BinaryDataOutput { get; init; }

    [JsonPropertyName("priority")]
    [Description("1 is the highest, up to the model's priority_levels (schedule_policy extension).")]
    public int? Priority { get; init; }

    [JsonPropertyName("timeout")]
    [Description("Microseconds the request may wait in the queue before it is dropped unexecuted (504).")]
    public long? Timeout { get; init; }
}

/// <summary>One input tensor.</summary>
[Description("One input tensor: JSON data, or binary_data_size bytes after the JSON header.")]
internal sealed class InferInputTensor
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("datatype")]
    [Description("BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64 or BYTES.")]
    public required string Datatype { get; init; }

    [JsonPropertyName("shape")]
    public required long[] Shape { get; init; }

    [JsonPropertyName("parameters")]
    public InferInputParameters? Parameters { get; init; }

    [JsonPropertyName("data")]
    [Description("Row-major values, flat or nested; numbers, booleans (BOOL) or strings (BYTES, and \"NaN\", \"Infinity\", \"-Infinity\" for floats). Leave out when binary_data_size is given.")]
    public JsonElement? Data { get; init; }
}

/// <summary>Per-input parameters.</summary>
internal sealed class InferInputParameters
{
    [JsonPropertyName("binary_data_size")]
    [Description("Bytes of this tensor in the binary part of the body, in the order the inputs appear (binary tensor extension).")]
    public long? BinaryDataSize { get; init; }
}

/// <summary>One wanted output.</summary>
internal sealed class InferRequestedOutput
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("parameters")]
    public InferOutputParameters? Parameters { get; init; }
}

/// <summary>Per-output parameters of the request.</summary>
internal sealed class InferOutputParameters
{
    [JsonPropertyName("binary_data")]
    [Description("Return this output as raw bytes after the JSON (binary tensor extension).")]
    public bool? BinaryData { get; init; }
}

/// <summary>The JSON of a successful infer response (or its JSON header when outputs are binary).</summary>
[Description("An inference response. When any output is binary, the body is this JSON followed by the outputs' bytes, and Inference-Header-Content-Length gives the JSON's length.")]
internal sealed class InferResponseBody
{
    [JsonPropertyName("model_name")]
    public required string ModelName { get; init; }

    [JsonPropertyName("model_version")]
    public required string ModelVersion { get; init; }

    [JsonPropertyName("id")]
    [Description("The request's id, when it gave one.")]
    public string? Id { get; init; }

    [JsonPropertyName("outputs")]
    public required InferOutputTensor[] Outputs { get; init; }
}

/// <summary>One output tensor of a response.</summary>
internal sealed class InferOutputTensor
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("datatype")]
    public required string Datatype { get; init; }

    [JsonPropertyName("shape")]
    public required long[] Shape { get; init; }

    [JsonPropertyName("parameters")]
    [Description("Present for a binary output: binary_data_size is its length in the binary part.")]
    public InferInputParameters? Parameters { get; init; }

    [JsonPropertyName("data")]
    [Description("Flat row-major values (absent for a binary output).")]
    public JsonElement? Data { get; init; }
}

/// <summary><c>GET /health/details</c>.</summary>
[Description("Every health check in detail; status is Healthy, Degraded or Unhealthy.")]
internal sealed class HealthDetailsResponse
{
    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("duration_ms")]
    public double DurationMs { get; init; }

    [JsonPropertyName("checks")]
    public required HealthCheckEntry[] Checks { get; init; }
}

/// <summary>One check of <see cref="HealthDetailsResponse"/>.</summary>
internal sealed class HealthCheckEntry
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("description")]
    public string? Description { get; init; }

    [JsonPropertyName("duration_ms")]
    public double DurationMs { get; init; }

    [JsonPropertyName("error")]
    public string? Error { get; init; }

    [JsonPropertyName("tags")]
    public required string[] Tags { get; init; }

    [JsonPropertyName("data")]
    public required Dictionary<string, string> Data { get; init; }
}

/// <summary>The empty object that load and unload answer with.</summary>
[Description("An empty object: the action succeeded.")]
internal sealed class EmptyResponse;

/// <summary>
/// The shapes above, for the OpenAPI schema generator (which reads source-generated metadata, so
/// it works under Native AOT). The gateway's own wire types are not repeated here: their schemas
/// come from the contexts their handlers serialise with (see <see cref="ApiDocumentation"/>).
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InferRequestBody))]
[JsonSerializable(typeof(InferResponseBody))]
[JsonSerializable(typeof(HealthDetailsResponse))]
[JsonSerializable(typeof(EmptyResponse))]
internal sealed partial class DocumentationJsonContext : JsonSerializerContext;
