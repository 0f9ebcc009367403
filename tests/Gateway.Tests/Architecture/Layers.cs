namespace Gateway.Tests.Architecture;

/// <summary>Where an assembly sits: a project may reference only projects of a lower layer.</summary>
public enum Layer
{
    /// <summary>The backend contract, tensors, datatypes, error results.</summary>
    Abstractions = 0,

    /// <summary>What builds on Abstractions alone: backends, scheduling, identity.</summary>
    Component = 1,

    /// <summary>The host: HTTP, protocol, composition of everything below.</summary>
    Host = 2,
}

/// <summary>
/// One row per product assembly: its project file (relative to the repository root), its layer,
/// and the only projects (by assembly name) it may reference.
/// </summary>
public sealed record LayerRule(string Assembly, string Project, Layer Layer, string[] MayReference)
{
    public override string ToString() => Assembly;
}

/// <summary>
/// The assembly graph as it is meant to be. A new assembly is one row here (an assembly without a
/// row fails <see cref="ArchitectureTests"/>); the host's row lists what it composes.
/// </summary>
public static class Layers
{
    public const string Abstractions = "Gateway.Abstractions";

    public static readonly LayerRule[] Rules =
    [
        new(Abstractions, "src/Abstractions/Gateway.Abstractions.csproj", Layer.Abstractions, []),
        new("Gateway.Backends.Onnx", "src/Backends.Onnx/Gateway.Backends.Onnx.csproj", Layer.Component, [Abstractions]),
        new("Gateway.Backends.Torch", "src/Backends.Torch/Gateway.Backends.Torch.csproj", Layer.Component, [Abstractions]),
        new("Gateway.Scheduling", "src/Scheduling/Gateway.Scheduling.csproj", Layer.Component, [Abstractions]),
        new("Gateway.Identity", "src/Identity/Gateway.Identity.csproj", Layer.Component, [Abstractions]),
        new("gateway", "src/Gateway/Gateway.csproj", Layer.Host, [Abstractions, "Gateway.Backends.Onnx", "Gateway.Backends.Torch", "Gateway.Scheduling", "Gateway.Identity"]),
    ];
}
