using System.Globalization;
using System.Text.Json;
using Gateway.Abstractions;

namespace Gateway.Repository;

/// <summary>
/// One loaded, servable model version: its definition, runner and effective signature (the
/// model file's, narrowed by the configuration).
/// </summary>
internal sealed class ModelVersion : IDisposable
{
    public ModelVersion(ModelDefinition definition, long version, IModelRunner runner, ModelSignature signature)
    {
        Definition = definition;
        Version = version;
        VersionText = version.ToString(CultureInfo.InvariantCulture);
        Runner = runner;
        Signature = signature;
        NameJson = JsonEncodedText.Encode(definition.Name);
        ConfigJson = ModelConfigView.Serialise(definition, signature);
        VersionJson = JsonEncodedText.Encode(VersionText);
        AllOutputs = new int[signature.Outputs.Count];
        OutputNamesJson = new JsonEncodedText[signature.Outputs.Count];
        for (var i = 0; i < AllOutputs.Length; i++)
        {
            AllOutputs[i] = i;
            OutputNamesJson[i] = JsonEncodedText.Encode(signature.Outputs[i].Name);
        }
    }

    public ModelDefinition Definition { get; }

    public string Name => Definition.Name;

    public long Version { get; }

    public string VersionText { get; }

    public IModelRunner Runner { get; }

    /// <summary>The completed configuration, pre-serialised for <c>GET .../config</c>.</summary>
    public byte[] ConfigJson { get; }

    /// <summary>The name, pre-encoded for responses.</summary>
    public JsonEncodedText NameJson { get; }

    /// <summary>The version, pre-encoded for responses.</summary>
    public JsonEncodedText VersionJson { get; }

    /// <summary>Inputs and outputs as served: full shapes including the batch dimension.</summary>
    public ModelSignature Signature { get; }

    /// <summary>Output names pre-encoded for responses, in signature order.</summary>
    public JsonEncodedText[] OutputNamesJson { get; }

    /// <summary>Indices of every output, for requests that do not select outputs.</summary>
    public int[] AllOutputs { get; }

    public string Platform => Definition.Backend.Platform;

    public int MaxBatchSize => Definition.MaxBatchSize;

    public void Dispose() => Runner.Dispose();
}

/// <summary>A model name with the versions being served, highest first.</summary>
internal sealed class ServedModel
{
    public ServedModel(ModelDefinition definition, IReadOnlyList<ModelVersion> versions)
    {
        Definition = definition;
        Versions = versions;
        MetadataJson = Protocol.V2Metadata.Serialise(this, versions[0]);
        VersionMetadataJson = new byte[versions.Count][];
        for (var i = 0; i < versions.Count; i++)
        {
            VersionMetadataJson[i] = Protocol.V2Metadata.Serialise(this, versions[i]);
        }
    }

    public string Name => Definition.Name;

    public ModelDefinition Definition { get; }

    /// <summary>Served versions, highest first.</summary>
    public IReadOnlyList<ModelVersion> Versions { get; }

    /// <summary>The version served when a request names none.</summary>
    public ModelVersion Latest => Versions[0];

    /// <summary>Metadata response for the model without a version, pre-serialised at load.</summary>
    public byte[] MetadataJson { get; }

    /// <summary>Metadata responses per version, in <see cref="Versions"/> order.</summary>
    public byte[][] VersionMetadataJson { get; }

    public bool TryGetVersion(long version, out ModelVersion model, out int index)
    {
        for (var i = 0; i < Versions.Count; i++)
        {
            if (Versions[i].Version == version)
            {
                model = Versions[i];
                index = i;
                return true;
            }
        }

        model = null!;
        index = -1;
        return false;
    }
}
