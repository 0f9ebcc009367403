using System.Globalization;
using System.Text.Json;
using Gateway.Abstractions;
using Gateway.Scheduling;

namespace Gateway.Repository;

/// <summary>
/// Reads a model directory's <c>config.json</c> or <c>config.pbtxt</c> (Triton's field names in
/// both) into a <see cref="ModelDefinition"/>, or into an error that names the file and the field
/// (and, for <c>config.pbtxt</c>, the line and column). Checks
/// everything that can be checked without the model file; the model's own signature is merged in
/// later by <see cref="SignatureMerge"/>.
/// </summary>
internal static class ModelConfigReader
{
    /// <summary>The gateway's JSON form of the configuration.</summary>
    public const string JsonFileName = "config.json";

    /// <summary>Triton's form: <c>ModelConfig</c> in protobuf text format.</summary>
    public const string ProtoTextFileName = "config.pbtxt";

    /// <summary>Triton's backend names, beside the gateway's own (<c>onnx</c>, <c>torch</c>).</summary>
    private static readonly Dictionary<string, string> s_tritonBackends = new(StringComparer.OrdinalIgnoreCase)
    {
        ["onnxruntime"] = "onnx",
        ["pytorch"] = "torch",
    };

    /// <summary>
    /// Reads and checks a model directory's configuration (<c>config.json</c> or <c>config.pbtxt</c>,
    /// or neither). Returns null and sets <paramref name="error"/> (naming the file and the field,
    /// and for <c>config.pbtxt</c> its line and column) when it is unusable. <paramref name="inlineThreshold"/> is the host's threshold for running short
    /// unbatched models on the request's thread.
    /// </summary>
    public static ModelDefinition? Read(string modelDirectory, IReadOnlyList<IBackend> backends, TimeSpan inlineThreshold, out string error)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory));
        var jsonPath = Path.Combine(modelDirectory, JsonFileName);
        var textPath = Path.Combine(modelDirectory, ProtoTextFileName);
        var config = new ModelConfig();
        ConfigLocations? locations = null;
        string? source = null;
        var hasJson = File.Exists(jsonPath);
        var hasText = File.Exists(textPath);
        if (hasJson && hasText)
        {
            // One rule, no preference: a file that is read while its neighbour is silently
            // ignored is the very surprise a Triton user meets today with config.pbtxt.
            error = $"{modelDirectory}: both {JsonFileName} and {ProtoTextFileName} are present; keep one (neither takes precedence)";
            return null;
        }

        if (hasJson)
        {
            source = jsonPath;
            try
            {
                using var stream = File.OpenRead(jsonPath);
                config = JsonSerializer.Deserialize(stream, ModelConfigJsonContext.Default.ModelConfig)
                    ?? throw new JsonException("the file holds null");
            }
            catch (JsonException ex)
            {
                error = $"{jsonPath}: {ex.Message}";
                return null;
            }
            catch (IOException ex)
            {
                error = $"{jsonPath}: {ex.Message}";
                return null;
            }
        }
        else if (hasText)
        {
            source = textPath;
            string text;
            try
            {
                text = File.ReadAllText(textPath);
            }
            catch (IOException ex)
            {
                error = $"{textPath}: {ex.Message}";
                return null;
            }

            var parsed = ModelConfigProtoText.Read(text, out var places, out error);
            if (parsed is null)
            {
                error = $"{textPath}: {error}";
                return null;
            }

            config = parsed;
            locations = places;
        }

        var where = source ?? modelDirectory;
        string Fail(ConfigIssue issue) => $"{where}: {locations?.Prefix(issue.Field)}{issue.Message}";

        if (config.Name is not null && config.Name != name)
        {
            error = Fail(new("name", $"name '{config.Name}' does not match the directory name '{name}'"));
            return null;
        }

        var backend = ResolveBackend(config, modelDirectory, backends, out var issue);
        if (backend is null)
        {
            error = Fail(issue);
            return null;
        }

        if (config.MaxBatchSize < 0)
        {
            error = Fail(new("max_batch_size", $"max_batch_size must not be negative (got {config.MaxBatchSize})"));
            return null;
        }

        if (!TryResolveInstances(config, out var instances, out var device, out issue)
            || !TryReadParameters(config, out var parameters, out issue)
            || !TryCheckTensors(config, out issue)
            || !TryReadVersionPolicy(config, out var policy, out var latest, out var specific, out issue)
            || !TryReadScheduling(config, instances, inlineThreshold, out var scheduling, out issue)
            || !TryCreateAccess(config, out var access, out issue))
        {
            error = Fail(issue);
            return null;
        }

        var warnings = new List<string>();
        foreach (var warning in Warnings(config))
        {
            warnings.Add(Fail(warning));
        }

        error = string.Empty;
        return new ModelDefinition
        {
            Name = name,
            Backend = backend,
            ConfigPath = source,
            Config = config,
            Locations = locations,
            InstanceCount = instances,
            Device = device,
            Parameters = parameters,
            ModelFileName = config.DefaultModelFilename ?? backend.DefaultModelFileName,
            VersionPolicy = policy,
            LatestCount = latest,
            SpecificVersions = specific,
            DeclaredSignature = BuildDeclaredSignature(config),
            Scheduling = scheduling,
            Access = access,
            Warnings = warnings,
        };
    }

    /// <summary>
    /// Fields accepted and ignored because ignoring them cannot change an answer; each is logged
    /// once per load so that nobody believes them in effect.
    /// </summary>
    private static IEnumerable<ConfigIssue> Warnings(ModelConfig config)
    {
        foreach (var (what, tensors) in new[] { ("input", config.Input), ("output", config.Output) })
        {
            for (var i = 0; i < (tensors?.Count ?? 0); i++)
            {
                var tensor = tensors![i];
                if (tensor.Format is { } format && format != "FORMAT_NONE")
                {
                    yield return new(string.Create(CultureInfo.InvariantCulture, $"{what}[{i}].format"), $"{what} '{tensor.Name}': format {format} is ignored (a layout hint; the shape is what is checked)");
                }

                if (tensor.LabelFilename is not null)
                {
                    yield return new(string.Create(CultureInfo.InvariantCulture, $"{what}[{i}].label_filename"), $"{what} '{tensor.Name}': label_filename is ignored (the classification extension is not served)");
                }
            }
        }

        for (var i = 0; i < (config.InstanceGroup?.Count ?? 0); i++)
        {
            if (config.InstanceGroup![i]?.Name is { } groupName)
            {
                yield return new(string.Create(CultureInfo.InvariantCulture, $"instance_group[{i}].name"), $"instance_group name '{groupName}' is ignored (groups are not named here)");
            }
        }

        if (config.DynamicBatching?.PreserveOrdering == true)
        {
            yield return new("dynamic_batching.preserve_ordering", "dynamic_batching.preserve_ordering is ignored (every request has its own response, so there is no order to keep)");
        }
    }

    /// <summary>
    /// The configuration's tensors as a signature, when inputs and outputs are both listed and
    /// every entry has a datatype and dims; the batch dimension is prepended when the model batches.
    /// </summary>
    private static ModelSignature? BuildDeclaredSignature(ModelConfig config)
    {
        if (config.Input is not { Count: > 0 } || config.Output is not { Count: > 0 })
        {
            return null;
        }

        var inputs = BuildDeclaredSpecs(config.Input, config.MaxBatchSize);
        var outputs = BuildDeclaredSpecs(config.Output, config.MaxBatchSize);
        return inputs is null || outputs is null ? null : new ModelSignature(inputs, outputs);
    }

    private static TensorSpec[]? BuildDeclaredSpecs(List<TensorConfig> tensors, int maxBatchSize)
    {
        var specs = new TensorSpec[tensors.Count];
        for (var i = 0; i < specs.Length; i++)
        {
            var tensor = tensors[i];
            // Names, datatypes and dims were checked in Read; only completeness is open here.
            if (tensor.Dims is null || !DataTypes.TryParse(tensor.DataType, out var type))
            {
                return null;
            }

            var shape = default(TensorShape);
            if (maxBatchSize > 0)
            {
                shape.TryAdd(-1);
            }

            foreach (var d in tensor.Dims)
            {
                shape.TryAdd(d);
            }

            specs[i] = new TensorSpec(tensor.Name!, type, shape);
        }

        return specs;
    }

    private static IBackend? ResolveBackend(ModelConfig config, string modelDirectory, IReadOnlyList<IBackend> backends, out ConfigIssue issue)
    {
        issue = default;
        IBackend? named = null;
        if (config.Backend is not null)
        {
            var wanted = s_tritonBackends.TryGetValue(config.Backend, out var own) ? own : config.Backend;
            foreach (var backend in backends)
            {
                if (string.Equals(backend.Name, wanted, StringComparison.OrdinalIgnoreCase))
                {
                    named = backend;
                    break;
                }
            }

            if (named is null)
            {
                issue = new("backend", $"backend '{config.Backend}' is not compiled into this gateway (available: {BackendNames(backends)})");
                return null;
            }
        }

        if (config.Platform is not null)
        {
            foreach (var backend in backends)
            {
                if (string.Equals(backend.Platform, config.Platform, StringComparison.OrdinalIgnoreCase))
                {
                    // Triton's own configs often give both; they must then agree.
                    if (named is not null && named != backend)
                    {
                        issue = new("platform", $"platform '{config.Platform}' and backend '{config.Backend}' name different backends");
                        return null;
                    }

                    return backend;
                }
            }

            if (named is null)
            {
                issue = new("platform", $"platform '{config.Platform}' is not served by this gateway (available backends: {BackendNames(backends)})");
                return null;
            }

            issue = new("platform", $"platform '{config.Platform}' is not served by this gateway (backend '{config.Backend}' serves {named.Platform})");
            return null;
        }

        if (named is not null)
        {
            return named;
        }

        // Auto-complete: the first backend whose model file appears in any version directory.
        foreach (var backend in backends)
        {
            var fileName = config.DefaultModelFilename ?? backend.DefaultModelFileName;
            foreach (var versionDirectory in Directory.EnumerateDirectories(modelDirectory))
            {
                if (File.Exists(Path.Combine(versionDirectory, fileName)))
                {
                    return backend;
                }
            }
        }

        issue = new("", $"no backend is named and no version directory holds a model file (looked for {ModelFileNames(backends)})");
        return null;
    }

    private static bool TryResolveInstances(ModelConfig config, out int instances, out string device, out ConfigIssue issue)
    {
        instances = 1;
        device = config.Device ?? "cpu";
        issue = default;
        if (config.InstanceCount is { } count)
        {
            if (count is < 1 or > 64)
            {
                issue = new("instance_count", $"instance_count must be from 1 to 64 (got {count})");
                return false;
            }

            instances = count;
        }

        if (config.InstanceGroup is { Count: > 0 } groups)
        {
            if (config.InstanceCount is not null)
            {
                issue = new("instance_group", "give either instance_count or instance_group, not both");
                return false;
            }

            if (groups.Count > 1)
            {
                issue = new("instance_group[1]", "only one instance_group is supported");
                return false;
            }

            var group = groups[0];
            if (group is null)
            {
                issue = new("instance_group[0]", "instance_group must hold an object (got null)");
                return false;
            }

            if (group.Count is < 1 or > 64)
            {
                issue = new("instance_group[0].count", $"instance_group count must be from 1 to 64 (got {group.Count})");
                return false;
            }

            instances = group.Count;
            switch (group.Kind)
            {
                case null or "KIND_AUTO" or "KIND_CPU" when config.Device is null:
                    break;
                case "KIND_GPU" when config.Device is null:
                    var gpu = group.Gpus is { Length: > 0 } gpus ? gpus[0] : 0;
                    device = "cuda:" + gpu.ToString(CultureInfo.InvariantCulture);
                    break;
                case "KIND_CPU" or "KIND_GPU" or "KIND_AUTO" or null:
                    break;
                default:
                    issue = new("instance_group[0].kind", $"instance_group kind must be KIND_CPU, KIND_GPU or KIND_AUTO (got '{group.Kind}')");
                    return false;
            }
        }

        if (device != "cpu" && device != "cuda" && !IsCudaOrdinal(device))
        {
            issue = new("device", $"device must be cpu, cuda or cuda:N (got '{device}')");
            return false;
        }

        return true;
    }

    private static bool IsCudaOrdinal(string device) =>
        device.StartsWith("cuda:", StringComparison.Ordinal)
        && int.TryParse(device.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out _);

    private static bool TryReadParameters(ModelConfig config, out Dictionary<string, string> parameters, out ConfigIssue issue)
    {
        parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        issue = default;
        if (config.Parameters is null)
        {
            return true;
        }

        foreach (var (key, value) in config.Parameters)
        {
            var field = "parameters." + key;
            var element = value;
            if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("string_value", out var inner))
            {
                element = inner;
            }

            if (!IsText(value) || !IsText(element))
            {
                issue = new(field, $"parameter '{key}' holds text that is not valid (a lone UTF-16 surrogate escape or bytes that are not UTF-8)");
                return false;
            }

            switch (element.ValueKind)
            {
                case JsonValueKind.String:
                    parameters[key] = element.GetString()!;
                    break;
                case JsonValueKind.Number:
                    parameters[key] = element.GetRawText();
                    break;
                case JsonValueKind.True:
                    parameters[key] = "true";
                    break;
                case JsonValueKind.False:
                    parameters[key] = "false";
                    break;
                default:
                    issue = new(field, $"parameter '{key}' must be a string, number, boolean or {{\"string_value\": ...}}");
                    return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Whether a parameter's value decodes and can be written back (GET .../config serialises the
    /// configuration). The serializer refuses such text in typed fields with a JsonException, but
    /// a JsonElement keeps it raw and throws only when decoded or written (found by fuzzing
    /// config.json: tests/fixtures/fuzz/config).
    /// </summary>
    private static bool IsText(JsonElement value)
    {
        try
        {
            using var writer = new Utf8JsonWriter(Stream.Null);
            value.WriteTo(writer);
            if (value.ValueKind == JsonValueKind.String)
            {
                _ = value.GetString();
            }

            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    private static bool TryCheckTensors(ModelConfig config, out ConfigIssue issue)
    {
        if (!TryCheckTensors("input", config.Input, out issue))
        {
            return false;
        }

        return TryCheckTensors("output", config.Output, out issue);
    }

    private static bool TryCheckTensors(string what, List<TensorConfig>? tensors, out ConfigIssue issue)
    {
        issue = default;
        if (tensors is null)
        {
            return true;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tensors.Count; i++)
        {
            var tensor = tensors[i];
            var field = string.Create(CultureInfo.InvariantCulture, $"{what}[{i}]");

            // JSON null in the list deserialises as a null entry (found by fuzzing).
            if (tensor is null)
            {
                issue = new(field, $"every {what} must be an object (got null)");
                return false;
            }

            if (string.IsNullOrEmpty(tensor.Name))
            {
                issue = new(field + ".name", $"every {what} needs a name");
                return false;
            }

            if (!seen.Add(tensor.Name))
            {
                issue = new(field + ".name", $"{what} '{tensor.Name}' is listed twice");
                return false;
            }

            if (tensor.DataType is not null && !DataTypes.TryParse(tensor.DataType, out _))
            {
                issue = new(field + ".data_type", $"{what} '{tensor.Name}': unknown data_type '{tensor.DataType}' (use TYPE_FP32, FP32, ...)");
                return false;
            }

            if (tensor.Dims is not null)
            {
                if (tensor.Dims.Length > TensorShape.MaxRank - 1)
                {
                    issue = new(field + ".dims", $"{what} '{tensor.Name}': dims has more than {TensorShape.MaxRank - 1} entries");
                    return false;
                }

                foreach (var d in tensor.Dims)
                {
                    if (d < -1)
                    {
                        issue = new(field + ".dims", $"{what} '{tensor.Name}': dims may hold -1 (variable) or sizes of 0 and more (got {d})");
                        return false;
                    }
                }
            }

            // A reshape that changes the shape would hand the model other dimensions than the
            // client sends: not implemented, so refused rather than ignored.
            if (tensor.Reshape is { } reshape && (tensor.Dims is null || !(reshape.Shape ?? []).AsSpan().SequenceEqual(tensor.Dims)))
            {
                issue = new(field + ".reshape", $"{what} '{tensor.Name}': reshape is not implemented (only a reshape equal to dims is accepted)");
                return false;
            }

            if (tensor.Optional == true)
            {
                issue = new(field + ".optional", $"{what} '{tensor.Name}': optional inputs are not implemented (every input must be sent)");
                return false;
            }
        }

        return true;
    }

    private static bool TryReadVersionPolicy(ModelConfig config, out VersionPolicyKind policy, out int latest, out long[] specific, out ConfigIssue issue)
    {
        policy = VersionPolicyKind.All;
        latest = 1;
        specific = [];
        issue = default;
        var vp = config.VersionPolicy;
        if (vp is null)
        {
            return true;
        }

        if (vp.All is { } all && !IsText(all))
        {
            issue = new("version_policy.all", "version_policy.all holds text that is not valid (a lone UTF-16 surrogate escape or bytes that are not UTF-8)");
            return false;
        }

        var given = (vp.Latest is null ? 0 : 1) + (vp.All is null ? 0 : 1) + (vp.Specific is null ? 0 : 1);
        if (given != 1)
        {
            issue = new("version_policy", "version_policy must hold exactly one of latest, all, specific");
            return false;
        }

        if (vp.Latest is not null)
        {
            if (vp.Latest.NumVersions < 1)
            {
                issue = new("version_policy.latest.num_versions", $"version_policy.latest.num_versions must be at least 1 (got {vp.Latest.NumVersions})");
                return false;
            }

            policy = VersionPolicyKind.Latest;
            latest = vp.Latest.NumVersions;
        }
        else if (vp.Specific is not null)
        {
            if (vp.Specific.Versions is not { Length: > 0 } versions)
            {
                issue = new("version_policy.specific.versions", "version_policy.specific.versions must list at least one version");
                return false;
            }

            policy = VersionPolicyKind.Specific;
            specific = versions;
        }

        return true;
    }

    private static bool TryReadScheduling(ModelConfig config, int instances, TimeSpan inlineThreshold, out SchedulingPolicy policy, out ConfigIssue issue)
    {
        issue = default;
        var batching = config.DynamicBatching;
        if (batching is null)
        {
            policy = new SchedulingPolicy { InstanceCount = instances, MaxBatchSize = config.MaxBatchSize, InlineThreshold = inlineThreshold };
            return true;
        }

        policy = new SchedulingPolicy();
        if (config.MaxBatchSize < 1)
        {
            issue = new("dynamic_batching", "dynamic_batching needs max_batch_size of 1 or more");
            return false;
        }

        var preferred = batching.PreferredBatchSize ?? [];
        foreach (var size in preferred)
        {
            if (size < 1 || size > config.MaxBatchSize)
            {
                issue = new("dynamic_batching.preferred_batch_size", $"dynamic_batching.preferred_batch_size {size} must be from 1 to max_batch_size {config.MaxBatchSize}");
                return false;
            }
        }

        if (batching.MaxQueueDelayMicroseconds is < 0 or > 60_000_000)
        {
            issue = new("dynamic_batching.max_queue_delay_microseconds", $"dynamic_batching.max_queue_delay_microseconds must be from 0 to 60000000 (got {batching.MaxQueueDelayMicroseconds})");
            return false;
        }

        if (!TryReadQueuePolicy(batching, out var queue, out issue))
        {
            return false;
        }

        if (batching.PriorityLevels is < 0 or > 16)
        {
            issue = new("dynamic_batching.priority_levels", $"dynamic_batching.priority_levels must be from 0 to 16 (got {batching.PriorityLevels})");
            return false;
        }

        var defaultLevel = batching.DefaultPriorityLevel;
        if (batching.PriorityLevels > 0 && (defaultLevel < 1 || defaultLevel > batching.PriorityLevels))
        {
            issue = new("dynamic_batching.default_priority_level", $"dynamic_batching.default_priority_level must be from 1 to priority_levels {batching.PriorityLevels} (got {defaultLevel})");
            return false;
        }

        if (!TryCheckPriorityQueuePolicies(batching, queue, out issue))
        {
            return false;
        }

        var sorted = preferred.Distinct().Order().ToArray();
        policy = new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = config.MaxBatchSize,
            PreferredBatchSizes = sorted,
            MaxQueueDelay = TimeSpan.FromMicroseconds(batching.MaxQueueDelayMicroseconds),
            MaxQueueSize = queue.MaxQueueSize > 0 ? queue.MaxQueueSize : SchedulingPolicy.DefaultMaxQueueSize,
            DefaultTimeout = TimeSpan.FromMicroseconds(queue.DefaultTimeoutMicroseconds),
            AllowTimeoutOverride = queue.AllowTimeoutOverride,
            PriorityLevels = batching.PriorityLevels,
            DefaultPriorityLevel = batching.PriorityLevels > 0 ? defaultLevel : 1,
            InstanceCount = instances,
            InlineThreshold = inlineThreshold,
        };
        return true;
    }

    /// <summary>
    /// The queue policy: Triton's <c>default_queue_policy</c>, or the gateway's older flat fields
    /// (<c>dynamic_batching.max_queue_size</c>, <c>.default_timeout_microseconds</c>), which keep
    /// their meaning: a request's own <c>timeout</c> replaces the default. With
    /// <c>default_queue_policy</c>, Triton's <c>allow_timeout_override</c> decides that (false unless given).
    /// </summary>
    private static bool TryReadQueuePolicy(DynamicBatchingConfig batching, out QueuePolicyConfig queue, out ConfigIssue issue)
    {
        issue = default;
        var flat = batching.MaxQueueSize is not null || batching.DefaultTimeoutMicroseconds is not null;
        if (batching.DefaultQueuePolicy is { } given)
        {
            queue = given;
            if (flat)
            {
                var field = batching.MaxQueueSize is not null ? "dynamic_batching.max_queue_size" : "dynamic_batching.default_timeout_microseconds";
                issue = new(field, "give the queue policy either in dynamic_batching.default_queue_policy or as dynamic_batching.max_queue_size and default_timeout_microseconds, not both");
                return false;
            }
        }
        else
        {
            queue = new QueuePolicyConfig
            {
                MaxQueueSize = batching.MaxQueueSize ?? 0,
                DefaultTimeoutMicroseconds = batching.DefaultTimeoutMicroseconds ?? 0,
                AllowTimeoutOverride = true,
            };
        }

        var prefix = batching.DefaultQueuePolicy is null ? "dynamic_batching." : "dynamic_batching.default_queue_policy.";
        return TryCheckQueuePolicy(queue, prefix, out issue);
    }

    private static bool TryCheckQueuePolicy(QueuePolicyConfig queue, string prefix, out ConfigIssue issue)
    {
        issue = default;
        if (queue.MaxQueueSize < 0)
        {
            issue = new(prefix + "max_queue_size", $"{prefix}max_queue_size must not be negative (got {queue.MaxQueueSize})");
            return false;
        }

        // The same range as a request's 'timeout': the deadline's timer waits at most 4294967294 ms
        // (beyond it TimeSpan overflowed here, or the timer threw per request; found by fuzzing).
        if (queue.DefaultTimeoutMicroseconds < 0 || (ulong)queue.DefaultTimeoutMicroseconds > Protocol.InferRequest.MaxTimeoutMicroseconds)
        {
            issue = new(prefix + "default_timeout_microseconds", $"{prefix}default_timeout_microseconds must be from 0 to {Protocol.InferRequest.MaxTimeoutMicroseconds} (got {queue.DefaultTimeoutMicroseconds})");
            return false;
        }

        // DELAY keeps a timed-out request queued behind the others: a different answer (late
        // instead of 504), and not implemented.
        if (queue.TimeoutAction is not (null or "REJECT"))
        {
            issue = new(prefix + "timeout_action", $"{prefix}timeout_action must be REJECT (got '{queue.TimeoutAction}'; DELAY is not implemented)");
            return false;
        }

        return true;
    }

    /// <summary>
    /// Triton's per-level queue policies. The scheduler keeps one bound and one default timeout for
    /// all levels, so a level's policy is accepted where it equals the default one and refused
    /// where it would differ (ignoring it would change which requests get 429 or 504).
    /// </summary>
    private static bool TryCheckPriorityQueuePolicies(DynamicBatchingConfig batching, QueuePolicyConfig queue, out ConfigIssue issue)
    {
        issue = default;
        if (batching.PriorityQueuePolicy is not { } levels)
        {
            return true;
        }

        foreach (var (key, level) in levels)
        {
            var field = "dynamic_batching.priority_queue_policy." + key;
            if (!uint.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1 || number > batching.PriorityLevels)
            {
                issue = new(field, $"dynamic_batching.priority_queue_policy: '{key}' is not a priority level from 1 to priority_levels {batching.PriorityLevels}");
                return false;
            }

            if (level is null || !TryCheckQueuePolicy(level, field + ".", out issue))
            {
                issue = level is null ? new(field, $"{field} must hold a queue policy (got null)") : issue;
                return false;
            }

            if (!level.SameAs(queue))
            {
                issue = new(field, $"{field} differs from the default queue policy; per-level queue policies are not implemented (one queue bound and timeout serve every level)");
                return false;
            }
        }

        return true;
    }

    private static bool TryCreateAccess(ModelConfig config, out Auth.ModelAccessRule? access, out ConfigIssue issue)
    {
        var created = Auth.ModelAccessRule.TryCreate(config.Access, out access, out var error);
        issue = created ? default : new("access", error);
        return created;
    }

    private static string BackendNames(IReadOnlyList<IBackend> backends)
    {
        var names = new string[backends.Count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = backends[i].Name;
        }

        return string.Join(", ", names);
    }

    private static string ModelFileNames(IReadOnlyList<IBackend> backends)
    {
        var names = new string[backends.Count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = backends[i].DefaultModelFileName;
        }

        return string.Join(", ", names);
    }
}

/// <summary>A configuration check's failure: the field it concerns (a path such as <c>input[0].dims</c>) and the reason.</summary>
internal readonly record struct ConfigIssue(string Field, string Message);
