using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Repository;

/// <summary>
/// A model's <c>config.json</c> (or its <c>config.pbtxt</c>, turned into the same object by
/// <see cref="ModelConfigProtoText"/>), using Triton's field names where Triton has them. Every field is
/// optional: what is missing is completed from the model file. Unknown fields are rejected so a
/// typo is reported instead of ignored.
/// </summary>
internal sealed class ModelConfig
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    /// <summary><c>onnx</c> or <c>torch</c>, or Triton's names for them, <c>onnxruntime</c> and <c>pytorch</c>.</summary>
    [JsonPropertyName("backend")]
    public string? Backend { get; set; }

    /// <summary>Triton's platform name (<c>onnxruntime_onnx</c>, <c>pytorch_libtorch</c>), accepted as an alternative to <c>backend</c>.</summary>
    [JsonPropertyName("platform")]
    public string? Platform { get; set; }

    /// <summary>0: the model does not batch; N: the first dimension is a batch of at most N.</summary>
    [JsonPropertyName("max_batch_size")]
    public int MaxBatchSize { get; set; }

    [JsonPropertyName("input")]
    public List<TensorConfig>? Input { get; set; }

    [JsonPropertyName("output")]
    public List<TensorConfig>? Output { get; set; }

    /// <summary>Parallel executions of the model (shorthand for Triton's <c>instance_group</c>).</summary>
    [JsonPropertyName("instance_count")]
    public int? InstanceCount { get; set; }

    [JsonPropertyName("instance_group")]
    public List<InstanceGroupConfig>? InstanceGroup { get; set; }

    /// <summary>
    /// Backend settings. Values may be plain strings, numbers or booleans, or Triton's
    /// <c>{"string_value": "..."}</c> form.
    /// </summary>
    [JsonPropertyName("parameters")]
    public Dictionary<string, JsonElement>? Parameters { get; set; }

    [JsonPropertyName("dynamic_batching")]
    public DynamicBatchingConfig? DynamicBatching { get; set; }

    [JsonPropertyName("version_policy")]
    public VersionPolicyConfig? VersionPolicy { get; set; }

    /// <summary>File name inside each version directory (default per backend, such as <c>model.onnx</c>).</summary>
    [JsonPropertyName("default_model_filename")]
    public string? DefaultModelFilename { get; set; }

    /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    [JsonPropertyName("device")]
    public string? Device { get; set; }

    /// <summary>Limits inference to the listed roles or users (see <c>docs/AUTH.md</c>).</summary>
    [JsonPropertyName("access")]
    public AccessConfig? Access { get; set; }
}

/// <summary><c>"access": {"roles": ["worker"], "users": ["alice"]}</c>: who may run the model.</summary>
internal sealed class AccessConfig
{
    [JsonPropertyName("roles")]
    public string[]? Roles { get; set; }

    [JsonPropertyName("users")]
    public string[]? Users { get; set; }
}

internal sealed class TensorConfig
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    /// <summary><c>TYPE_FP32</c> (Triton) or <c>FP32</c> (protocol).</summary>
    [JsonPropertyName("data_type")]
    public string? DataType { get; set; }

    /// <summary>Dimensions without the batch dimension when <c>max_batch_size</c> &gt; 0.</summary>
    [JsonPropertyName("dims")]
    public long[]? Dims { get; set; }

    /// <summary>Triton's reshape; accepted only when it leaves the shape as <c>dims</c> has it (not implemented).</summary>
    [JsonPropertyName("reshape")]
    public ReshapeConfig? Reshape { get; set; }

    /// <summary>Triton's optional input; only <c>false</c> is accepted (every input must be sent).</summary>
    [JsonPropertyName("optional")]
    public bool? Optional { get; set; }

    /// <summary>Triton's tensor layout hint; ignored with a warning (it does not change answers).</summary>
    [JsonPropertyName("format")]
    public string? Format { get; set; }

    /// <summary>Triton's classification labels; ignored with a warning (the classification extension is not served).</summary>
    [JsonPropertyName("label_filename")]
    public string? LabelFilename { get; set; }
}

internal sealed class ReshapeConfig
{
    [JsonPropertyName("shape")]
    public long[]? Shape { get; set; }
}

internal sealed class InstanceGroupConfig
{
    /// <summary>Triton's group name; ignored with a warning.</summary>
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("count")]
    public int Count { get; set; } = 1;

    /// <summary><c>KIND_CPU</c>, <c>KIND_GPU</c> or <c>KIND_AUTO</c>.</summary>
    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    [JsonPropertyName("gpus")]
    public int[]? Gpus { get; set; }
}

internal sealed class DynamicBatchingConfig
{
    [JsonPropertyName("preferred_batch_size")]
    public int[]? PreferredBatchSize { get; set; }

    [JsonPropertyName("max_queue_delay_microseconds")]
    public long MaxQueueDelayMicroseconds { get; set; }

    /// <summary>The gateway's older flat form of <c>default_queue_policy.max_queue_size</c>.</summary>
    [JsonPropertyName("max_queue_size")]
    public int? MaxQueueSize { get; set; }

    /// <summary>The gateway's older flat form of <c>default_queue_policy.default_timeout_microseconds</c>.</summary>
    [JsonPropertyName("default_timeout_microseconds")]
    public long? DefaultTimeoutMicroseconds { get; set; }

    [JsonPropertyName("priority_levels")]
    public int PriorityLevels { get; set; }

    [JsonPropertyName("default_priority_level")]
    public int DefaultPriorityLevel { get; set; }

    /// <summary>Triton's response ordering; <c>true</c> is ignored with a warning (each request has its own response).</summary>
    [JsonPropertyName("preserve_ordering")]
    public bool? PreserveOrdering { get; set; }

    [JsonPropertyName("default_queue_policy")]
    public QueuePolicyConfig? DefaultQueuePolicy { get; set; }

    /// <summary>Per priority level (the key); accepted where it equals the default policy (one queue bound is implemented).</summary>
    [JsonPropertyName("priority_queue_policy")]
    public Dictionary<string, QueuePolicyConfig?>? PriorityQueuePolicy { get; set; }
}

/// <summary>Triton's <c>ModelQueuePolicy</c>.</summary>
internal sealed class QueuePolicyConfig
{
    [JsonPropertyName("max_queue_size")]
    public int MaxQueueSize { get; set; }

    [JsonPropertyName("default_timeout_microseconds")]
    public long DefaultTimeoutMicroseconds { get; set; }

    /// <summary><c>REJECT</c> (the default); <c>DELAY</c> is not implemented.</summary>
    [JsonPropertyName("timeout_action")]
    public string? TimeoutAction { get; set; }

    /// <summary>Whether a request's own <c>timeout</c> replaces the default; Triton's default is false.</summary>
    [JsonPropertyName("allow_timeout_override")]
    public bool AllowTimeoutOverride { get; set; }

    public bool SameAs(QueuePolicyConfig other) =>
        MaxQueueSize == other.MaxQueueSize
        && DefaultTimeoutMicroseconds == other.DefaultTimeoutMicroseconds
        && (TimeoutAction ?? "REJECT") == (other.TimeoutAction ?? "REJECT")
        && AllowTimeoutOverride == other.AllowTimeoutOverride;
}

/// <summary>Exactly one of the three policies, as Triton names them.</summary>
internal sealed class VersionPolicyConfig
{
    [JsonPropertyName("latest")]
    public LatestPolicy? Latest { get; set; }

    [JsonPropertyName("all")]
    public JsonElement? All { get; set; }

    [JsonPropertyName("specific")]
    public SpecificPolicy? Specific { get; set; }
}

internal sealed class LatestPolicy
{
    [JsonPropertyName("num_versions")]
    public int NumVersions { get; set; } = 1;
}

internal sealed class SpecificPolicy
{
    [JsonPropertyName("versions")]
    public long[]? Versions { get; set; }
}

[JsonSourceGenerationOptions(
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelConfig))]
internal sealed partial class ModelConfigJsonContext : JsonSerializerContext;
