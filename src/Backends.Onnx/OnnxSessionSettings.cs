using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace Gateway.Backends.Onnx;

/// <summary>
/// Session options read from a model configuration's <c>parameters</c>. Names follow Triton's
/// ONNX Runtime backend where it has one (<c>intra_op_thread_count</c>); the ONNX Runtime
/// spellings are accepted as aliases. An unknown key is an error, so a typo never silently
/// falls back to a default.
/// </summary>
internal sealed class OnnxSessionSettings
{
    public int IntraOpThreads { get; private set; }

    /// <summary>Whether the configuration set the intra-op thread count (0 included: ONNX Runtime's default).</summary>
    public bool IntraOpThreadsGiven { get; private set; }

    public int InterOpThreads { get; private set; }

    public GraphOptimizationLevel OptimizationLevel { get; private set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    public ExecutionMode ExecutionMode { get; private set; } = ExecutionMode.ORT_SEQUENTIAL;

    /// <summary>Whether intra-op worker threads spin while idle (ONNX Runtime's default is yes).</summary>
    public bool? AllowSpinning { get; private set; }

    public bool? EnableCpuMemArena { get; private set; }

    public bool? EnableMemPattern { get; private set; }

    /// <summary><c>cpu</c> or <c>cuda</c>.</summary>
    public string ExecutionProvider { get; private set; } = "cpu";

    public int DeviceId { get; private set; }

    /// <summary>The keys this backend understands, for error messages.</summary>
    public const string KnownKeys =
        "intra_op_thread_count, inter_op_thread_count, graph_optimization_level, execution_mode, " +
        "allow_spinning, enable_cpu_mem_arena, enable_mem_pattern, execution_provider, device_id";

    /// <summary>
    /// Reads the settings; <paramref name="device"/> (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>)
    /// is the configuration's device and is overridden by explicit parameters.
    /// </summary>
    public static bool TryParse(IReadOnlyDictionary<string, string> parameters, string device, out OnnxSessionSettings settings, out string error)
    {
        settings = new OnnxSessionSettings();
        error = string.Empty;

        if (!TryApplyDevice(settings, device, out error))
        {
            return false;
        }

        foreach (var (key, value) in parameters)
        {
            switch (key)
            {
                case "intra_op_thread_count" or "intra_op_num_threads":
                    if (!TryInt(key, value, 0, 1024, out var intra, out error))
                    {
                        return false;
                    }

                    settings.IntraOpThreads = intra;
                    settings.IntraOpThreadsGiven = true;
                    break;
                case "inter_op_thread_count" or "inter_op_num_threads":
                    if (!TryInt(key, value, 0, 1024, out var inter, out error))
                    {
                        return false;
                    }

                    settings.InterOpThreads = inter;
                    break;
                case "graph_optimization_level":
                    switch (value.ToLowerInvariant())
                    {
                        case "disable" or "disabled" or "0" or "-1":
                            settings.OptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
                            break;
                        case "basic" or "1":
                            settings.OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC;
                            break;
                        case "extended" or "2":
                            settings.OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED;
                            break;
                        case "all" or "99":
                            settings.OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
                            break;
                        default:
                            error = $"parameter '{key}' must be one of disable, basic, extended, all (got '{value}')";
                            return false;
                    }

                    break;
                case "execution_mode":
                    switch (value.ToLowerInvariant())
                    {
                        case "sequential":
                            settings.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
                            break;
                        case "parallel":
                            settings.ExecutionMode = ExecutionMode.ORT_PARALLEL;
                            break;
                        default:
                            error = $"parameter '{key}' must be sequential or parallel (got '{value}')";
                            return false;
                    }

                    break;
                case "allow_spinning":
                    if (!TryBool(key, value, out var spin, out error))
                    {
                        return false;
                    }

                    settings.AllowSpinning = spin;
                    break;
                case "enable_cpu_mem_arena":
                    if (!TryBool(key, value, out var arena, out error))
                    {
                        return false;
                    }

                    settings.EnableCpuMemArena = arena;
                    break;
                case "enable_mem_pattern":
                    if (!TryBool(key, value, out var pattern, out error))
                    {
                        return false;
                    }

                    settings.EnableMemPattern = pattern;
                    break;
                case "execution_provider":
                    var provider = value.ToLowerInvariant();
                    if (provider is not ("cpu" or "cuda"))
                    {
                        error = $"parameter '{key}' must be cpu or cuda (got '{value}')";
                        return false;
                    }

                    settings.ExecutionProvider = provider;
                    break;
                case "device_id":
                    if (!TryInt(key, value, 0, 64, out var id, out error))
                    {
                        return false;
                    }

                    settings.DeviceId = id;
                    break;
                default:
                    error = $"unknown parameter '{key}' for the onnx backend (known: {KnownKeys})";
                    return false;
            }
        }

        return true;
    }

    /// <summary>Sets the intra-op thread count the backend chose where the configuration gave none.</summary>
    public void UseIntraOpThreads(int threads) => IntraOpThreads = threads;

    /// <summary>Builds ONNX Runtime session options; the caller disposes them.</summary>
    public SessionOptions CreateSessionOptions()
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = IntraOpThreads,
            InterOpNumThreads = InterOpThreads,
            GraphOptimizationLevel = OptimizationLevel,
            ExecutionMode = ExecutionMode,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };

        if (AllowSpinning is { } spin)
        {
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
            options.AddSessionConfigEntry("session.inter_op.allow_spinning", spin ? "1" : "0");
        }

        if (EnableCpuMemArena is { } arena)
        {
            options.EnableCpuMemArena = arena;
        }

        if (EnableMemPattern is { } pattern)
        {
            options.EnableMemoryPattern = pattern;
        }

        return options;
    }

    /// <summary>The device as reported in metadata and telemetry.</summary>
    public string Device => ExecutionProvider == "cuda" ? $"cuda:{DeviceId.ToString(CultureInfo.InvariantCulture)}" : "cpu";

    private static bool TryApplyDevice(OnnxSessionSettings settings, string device, out string error)
    {
        error = string.Empty;
        if (string.IsNullOrEmpty(device) || device == "cpu")
        {
            return true;
        }

        if (device == "cuda")
        {
            settings.ExecutionProvider = "cuda";
            return true;
        }

        if (device.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(device.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            settings.ExecutionProvider = "cuda";
            settings.DeviceId = id;
            return true;
        }

        error = $"device '{device}' is not cpu, cuda or cuda:N";
        return false;
    }

    private static bool TryInt(string key, string value, int min, int max, out int result, out string error)
    {
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out result) && result >= min && result <= max)
        {
            error = string.Empty;
            return true;
        }

        error = $"parameter '{key}' must be an integer from {min} to {max} (got '{value}')";
        return false;
    }

    private static bool TryBool(string key, string value, out bool result, out string error)
    {
        switch (value.ToLowerInvariant())
        {
            case "true" or "1" or "yes":
                result = true;
                error = string.Empty;
                return true;
            case "false" or "0" or "no":
                result = false;
                error = string.Empty;
                return true;
            default:
                result = false;
                error = $"parameter '{key}' must be true or false (got '{value}')";
                return false;
        }
    }
}
