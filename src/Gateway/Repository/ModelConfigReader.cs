using System.Globalization;
using System.Text.Json;
using Gateway.Abstractions;
using Gateway.Scheduling;

namespace Gateway.Repository;

/// <summary>
/// Reads a model directory's <c>config.json</c> (Triton's field names) into a
/// <see cref="ModelDefinition"/>, or into an error that names the file and the field. Checks
/// everything that can be checked without the model file; the model's own signature is merged in
/// later by <see cref="SignatureMerge"/>.
/// </summary>
internal static class ModelConfigReader
{
    /// <summary>
    /// Reads and checks a model directory's configuration (<c>config.json</c>, or its absence).
    /// Returns null and sets <paramref name="error"/> (naming the file and the field) when it is
    /// unusable. <paramref name="inlineThreshold"/> is the host's threshold for running short
    /// unbatched models on the request's thread.
    /// </summary>
    public static ModelDefinition? Read(string modelDirectory, IReadOnlyList<IBackend> backends, TimeSpan inlineThreshold, out string error)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory));
        var configPath = Path.Combine(modelDirectory, "config.json");
        var config = new ModelConfig();
        string? source = null;
        if (File.Exists(configPath))
        {
            source = configPath;
            try
            {
                using var stream = File.OpenRead(configPath);
                config = JsonSerializer.Deserialize(stream, ModelConfigJsonContext.Default.ModelConfig)
                    ?? throw new JsonException("the file holds null");
            }
            catch (JsonException ex)
            {
                error = $"{configPath}: {ex.Message}";
                return null;
            }
            catch (IOException ex)
            {
                error = $"{configPath}: {ex.Message}";
                return null;
            }
        }

        var where = source ?? modelDirectory;
        if (config.Name is not null && config.Name != name)
        {
            error = $"{where}: name '{config.Name}' does not match the directory name '{name}'";
            return null;
        }

        var backend = ResolveBackend(config, modelDirectory, backends, out error);
        if (backend is null)
        {
            error = $"{where}: {error}";
            return null;
        }

        if (config.MaxBatchSize < 0)
        {
            error = $"{where}: max_batch_size must not be negative (got {config.MaxBatchSize})";
            return null;
        }

        if (!TryResolveInstances(config, out var instances, out var device, out error)
            || !TryReadParameters(config, out var parameters, out error)
            || !TryCheckTensors(config, out error)
            || !TryReadVersionPolicy(config, out var policy, out var latest, out var specific, out error)
            || !TryReadScheduling(config, instances, inlineThreshold, out var scheduling, out error)
            || !Auth.ModelAccessRule.TryCreate(config.Access, out var access, out error))
        {
            error = $"{where}: {error}";
            return null;
        }

        error = string.Empty;
        return new ModelDefinition
        {
            Name = name,
            Backend = backend,
            ConfigPath = source,
            Config = config,
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
        };
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

    private static IBackend? ResolveBackend(ModelConfig config, string modelDirectory, IReadOnlyList<IBackend> backends, out string error)
    {
        error = string.Empty;
        if (config.Backend is not null)
        {
            foreach (var backend in backends)
            {
                if (string.Equals(backend.Name, config.Backend, StringComparison.OrdinalIgnoreCase))
                {
                    return backend;
                }
            }

            error = $"backend '{config.Backend}' is not compiled into this gateway (available: {BackendNames(backends)})";
            return null;
        }

        if (config.Platform is not null)
        {
            foreach (var backend in backends)
            {
                if (string.Equals(backend.Platform, config.Platform, StringComparison.OrdinalIgnoreCase))
                {
                    return backend;
                }
            }

            error = $"platform '{config.Platform}' is not served by this gateway (available backends: {BackendNames(backends)})";
            return null;
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

        error = $"no backend is named and no version directory holds a model file (looked for {ModelFileNames(backends)})";
        return null;
    }

    private static bool TryResolveInstances(ModelConfig config, out int instances, out string device, out string error)
    {
        instances = 1;
        device = config.Device ?? "cpu";
        error = string.Empty;
        if (config.InstanceCount is { } count)
        {
            if (count is < 1 or > 64)
            {
                error = $"instance_count must be from 1 to 64 (got {count})";
                return false;
            }

            instances = count;
        }

        if (config.InstanceGroup is { Count: > 0 } groups)
        {
            if (config.InstanceCount is not null)
            {
                error = "give either instance_count or instance_group, not both";
                return false;
            }

            if (groups.Count > 1)
            {
                error = "only one instance_group is supported";
                return false;
            }

            var group = groups[0];
            if (group is null)
            {
                error = "instance_group must hold an object (got null)";
                return false;
            }

            if (group.Count is < 1 or > 64)
            {
                error = $"instance_group count must be from 1 to 64 (got {group.Count})";
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
                    error = $"instance_group kind must be KIND_CPU, KIND_GPU or KIND_AUTO (got '{group.Kind}')";
                    return false;
            }
        }

        if (device != "cpu" && device != "cuda" && !IsCudaOrdinal(device))
        {
            error = $"device must be cpu, cuda or cuda:N (got '{device}')";
            return false;
        }

        return true;
    }

    private static bool IsCudaOrdinal(string device) =>
        device.StartsWith("cuda:", StringComparison.Ordinal)
        && int.TryParse(device.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out _);

    private static bool TryReadParameters(ModelConfig config, out Dictionary<string, string> parameters, out string error)
    {
        parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        error = string.Empty;
        if (config.Parameters is null)
        {
            return true;
        }

        foreach (var (key, value) in config.Parameters)
        {
            var element = value;
            if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("string_value", out var inner))
            {
                element = inner;
            }

            if (!IsText(value) || !IsText(element))
            {
                error = $"parameter '{key}' holds text that is not valid (a lone UTF-16 surrogate escape or bytes that are not UTF-8)";
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
                    error = $"parameter '{key}' must be a string, number, boolean or {{\"string_value\": ...}}";
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

    private static bool TryCheckTensors(ModelConfig config, out string error)
    {
        if (!TryCheckTensors("input", config.Input, out error))
        {
            return false;
        }

        return TryCheckTensors("output", config.Output, out error);
    }

    private static bool TryCheckTensors(string what, List<TensorConfig>? tensors, out string error)
    {
        error = string.Empty;
        if (tensors is null)
        {
            return true;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            // JSON null in the list deserialises as a null entry (found by fuzzing).
            if (tensor is null)
            {
                error = $"every {what} must be an object (got null)";
                return false;
            }

            if (string.IsNullOrEmpty(tensor.Name))
            {
                error = $"every {what} needs a name";
                return false;
            }

            if (!seen.Add(tensor.Name))
            {
                error = $"{what} '{tensor.Name}' is listed twice";
                return false;
            }

            if (tensor.DataType is not null && !DataTypes.TryParse(tensor.DataType, out _))
            {
                error = $"{what} '{tensor.Name}': unknown data_type '{tensor.DataType}' (use TYPE_FP32, FP32, ...)";
                return false;
            }

            if (tensor.Dims is not null)
            {
                if (tensor.Dims.Length > TensorShape.MaxRank - 1)
                {
                    error = $"{what} '{tensor.Name}': dims has more than {TensorShape.MaxRank - 1} entries";
                    return false;
                }

                foreach (var d in tensor.Dims)
                {
                    if (d < -1)
                    {
                        error = $"{what} '{tensor.Name}': dims may hold -1 (variable) or sizes of 0 and more (got {d})";
                        return false;
                    }
                }
            }
        }

        return true;
    }

    private static bool TryReadVersionPolicy(ModelConfig config, out VersionPolicyKind policy, out int latest, out long[] specific, out string error)
    {
        policy = VersionPolicyKind.All;
        latest = 1;
        specific = [];
        error = string.Empty;
        var vp = config.VersionPolicy;
        if (vp is null)
        {
            return true;
        }

        if (vp.All is { } all && !IsText(all))
        {
            error = "version_policy.all holds text that is not valid (a lone UTF-16 surrogate escape or bytes that are not UTF-8)";
            return false;
        }

        var given = (vp.Latest is null ? 0 : 1) + (vp.All is null ? 0 : 1) + (vp.Specific is null ? 0 : 1);
        if (given != 1)
        {
            error = "version_policy must hold exactly one of latest, all, specific";
            return false;
        }

        if (vp.Latest is not null)
        {
            if (vp.Latest.NumVersions < 1)
            {
                error = $"version_policy.latest.num_versions must be at least 1 (got {vp.Latest.NumVersions})";
                return false;
            }

            policy = VersionPolicyKind.Latest;
            latest = vp.Latest.NumVersions;
        }
        else if (vp.Specific is not null)
        {
            if (vp.Specific.Versions is not { Length: > 0 } versions)
            {
                error = "version_policy.specific.versions must list at least one version";
                return false;
            }

            policy = VersionPolicyKind.Specific;
            specific = versions;
        }

        return true;
    }

    private static bool TryReadScheduling(ModelConfig config, int instances, TimeSpan inlineThreshold, out SchedulingPolicy policy, out string error)
    {
        error = string.Empty;
        var batching = config.DynamicBatching;
        if (batching is null)
        {
            policy = new SchedulingPolicy { InstanceCount = instances, MaxBatchSize = config.MaxBatchSize, InlineThreshold = inlineThreshold };
            return true;
        }

        policy = new SchedulingPolicy();
        if (config.MaxBatchSize < 1)
        {
            error = "dynamic_batching needs max_batch_size of 1 or more";
            return false;
        }

        var preferred = batching.PreferredBatchSize ?? [];
        foreach (var size in preferred)
        {
            if (size < 1 || size > config.MaxBatchSize)
            {
                error = $"dynamic_batching.preferred_batch_size {size} must be from 1 to max_batch_size {config.MaxBatchSize}";
                return false;
            }
        }

        if (batching.MaxQueueDelayMicroseconds is < 0 or > 60_000_000)
        {
            error = $"dynamic_batching.max_queue_delay_microseconds must be from 0 to 60000000 (got {batching.MaxQueueDelayMicroseconds})";
            return false;
        }

        if (batching.MaxQueueSize < 0)
        {
            error = $"dynamic_batching.max_queue_size must not be negative (got {batching.MaxQueueSize})";
            return false;
        }

        // The same range as a request's 'timeout': the deadline's timer waits at most 4294967294 ms
        // (beyond it TimeSpan overflowed here, or the timer threw per request; found by fuzzing).
        if (batching.DefaultTimeoutMicroseconds < 0 || (ulong)batching.DefaultTimeoutMicroseconds > Protocol.InferRequest.MaxTimeoutMicroseconds)
        {
            error = $"dynamic_batching.default_timeout_microseconds must be from 0 to {Protocol.InferRequest.MaxTimeoutMicroseconds} (got {batching.DefaultTimeoutMicroseconds})";
            return false;
        }

        if (batching.PriorityLevels is < 0 or > 16)
        {
            error = $"dynamic_batching.priority_levels must be from 0 to 16 (got {batching.PriorityLevels})";
            return false;
        }

        var defaultLevel = batching.DefaultPriorityLevel;
        if (batching.PriorityLevels > 0 && (defaultLevel < 1 || defaultLevel > batching.PriorityLevels))
        {
            error = $"dynamic_batching.default_priority_level must be from 1 to priority_levels {batching.PriorityLevels} (got {defaultLevel})";
            return false;
        }

        var sorted = preferred.Distinct().Order().ToArray();
        policy = new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = config.MaxBatchSize,
            PreferredBatchSizes = sorted,
            MaxQueueDelay = TimeSpan.FromMicroseconds(batching.MaxQueueDelayMicroseconds),
            MaxQueueSize = batching.MaxQueueSize > 0 ? batching.MaxQueueSize : SchedulingPolicy.DefaultMaxQueueSize,
            DefaultTimeout = TimeSpan.FromMicroseconds(batching.DefaultTimeoutMicroseconds),
            PriorityLevels = batching.PriorityLevels,
            DefaultPriorityLevel = batching.PriorityLevels > 0 ? defaultLevel : 1,
            InstanceCount = instances,
        };
        return true;
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
