using Gateway.Abstractions;
using Gateway.Scheduling;

namespace Gateway.Repository;

/// <summary>Which versions of a model to serve, as Triton names the policies.</summary>
internal enum VersionPolicyKind
{
    All,
    Latest,
    Specific,
}

/// <summary>
/// A model's configuration after reading and checking <c>config.json</c> or <c>config.pbtxt</c> (or neither):
/// everything the repository needs to load the model's versions. Built by
/// <see cref="ModelConfigReader"/>; merged with a model file's signature by <see cref="SignatureMerge"/>.
/// </summary>
internal sealed class ModelDefinition
{
    public required string Name { get; init; }

    public required IBackend Backend { get; init; }

    /// <summary>The config file, or null when the model has none (auto-complete).</summary>
    public string? ConfigPath { get; init; }

    public ModelConfig Config { get; init; } = new();

    /// <summary>Where each field stands in a <c>config.pbtxt</c>, for errors found later (merge with the model); null for JSON.</summary>
    public ConfigLocations? Locations { get; init; }

    public int MaxBatchSize => Config.MaxBatchSize;

    public int InstanceCount { get; init; } = 1;

    /// <summary>The configuration names the instance count (<c>instance_count</c> or an <c>instance_group</c>).</summary>
    public bool InstanceCountGiven => Config.InstanceCount is not null || Config.InstanceGroup is { Count: > 0 };

    public string Device { get; init; } = "cpu";

    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    public string ModelFileName { get; init; } = "model.onnx";

    public VersionPolicyKind VersionPolicy { get; init; } = VersionPolicyKind.All;

    public int LatestCount { get; init; } = 1;

    public IReadOnlyList<long> SpecificVersions { get; init; } = [];

    /// <summary>
    /// The inputs and outputs as <c>config.json</c> declares them, when it declares every one in
    /// full; null otherwise. Backends without a signature in the model file need it.
    /// </summary>
    public ModelSignature? DeclaredSignature { get; init; }

    /// <summary>Queueing, batching and instances for every version of this model.</summary>
    public SchedulingPolicy Scheduling { get; init; } = new();
    /// <summary>Who may run inference on the model, when its config restricts it.</summary>
    public Auth.ModelAccessRule? Access { get; init; }

    /// <summary>Fields the configuration gives that are ignored (they cannot change answers), one text each, for the log.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Where errors about this model point: the config file or the model directory.</summary>
    public string Source => ConfigPath ?? Name;

    /// <summary>Picks the versions to serve from those present, highest first.</summary>
    public List<long> SelectVersions(IReadOnlyList<long> present)
    {
        var sorted = new List<long>(present);
        sorted.Sort((a, b) => b.CompareTo(a));
        switch (VersionPolicy)
        {
            case VersionPolicyKind.Latest:
                if (sorted.Count > LatestCount)
                {
                    sorted.RemoveRange(LatestCount, sorted.Count - LatestCount);
                }

                return sorted;
            case VersionPolicyKind.Specific:
                sorted.RemoveAll(v => !SpecificVersions.Contains(v));
                return sorted;
            default:
                return sorted;
        }
    }
}
