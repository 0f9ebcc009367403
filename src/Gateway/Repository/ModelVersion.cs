using System.Globalization;
using System.Text.Json;
using Gateway.Abstractions;
using Gateway.Scheduling;
using Gateway.Telemetry;

namespace Gateway.Repository;

/// <summary>
/// One loaded, warmed-up, servable model version: its definition, runner, effective signature
/// (the model file's, narrowed by the configuration) and scheduler. Requests hold it with
/// <see cref="TryAcquire"/>/<see cref="Release"/>; <see cref="RetireAsync"/> stops new requests,
/// lets the ones in flight finish, then frees the threads and the runtime session.
/// </summary>
internal sealed class ModelVersion
{
    private const int RetiredFlag = int.MinValue;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;

    public ModelVersion(ModelDefinition definition, long version, IModelRunner runner, ModelSignature signature, ISchedulerFactory schedulers, ModelTelemetry? telemetry = null, SchedulingPolicy? policy = null)
    {
        Definition = definition;
        Version = version;
        VersionText = version.ToString(CultureInfo.InvariantCulture);
        Runner = runner;
        Signature = signature;
        NameJson = JsonEncodedText.Encode(definition.Name);
        policy ??= definition.Scheduling;
        ConfigJson = ModelConfigView.Serialise(definition, signature, policy.InstanceCount);
        VersionJson = JsonEncodedText.Encode(VersionText);
        AllOutputs = new int[signature.Outputs.Count];
        OutputNamesJson = new JsonEncodedText[signature.Outputs.Count];
        for (var i = 0; i < AllOutputs.Length; i++)
        {
            AllOutputs[i] = i;
            OutputNamesJson[i] = JsonEncodedText.Encode(signature.Outputs[i].Name);
        }

        Telemetry = telemetry;
        Scheduler = schedulers.Create($"{definition.Name}/{VersionText}", runner, policy, telemetry);
        telemetry?.Bind(this);
    }

    /// <summary>This version's metrics and spans (null only in tests that build versions by hand).</summary>
    public ModelTelemetry? Telemetry { get; }

    public ModelDefinition Definition { get; }

    public string Name => Definition.Name;

    public long Version { get; }

    public string VersionText { get; }

    public IModelRunner Runner { get; }

    public ModelScheduler Scheduler { get; }

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

    /// <summary>Requests holding this version now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight) & int.MaxValue;

    /// <summary>Takes a hold for one request; false once the version is being retired.</summary>
    public bool TryAcquire()
    {
        if (Interlocked.Increment(ref _inFlight) < 0)
        {
            Release();
            return false;
        }

        return true;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _inFlight) == RetiredFlag)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Refuses new requests, waits for those in flight, then frees everything.</summary>
    public async Task RetireAsync()
    {
        if (Interlocked.Add(ref _inFlight, RetiredFlag) == RetiredFlag)
        {
            _drained.TrySetResult();
        }

        await _drained.Task;
        Telemetry?.Unbind();
        await Task.Run(() =>
        {
            Scheduler.Dispose();
            Runner.Dispose();
        });
    }

    /// <summary>Frees at once (shutdown, or a version that was never published).</summary>
    public void DisposeNow()
    {
        Telemetry?.Unbind();
        Scheduler.Dispose();
        Runner.Dispose();
    }
}

/// <summary>A model name with the versions being served, highest first.</summary>
internal sealed class ServedModel
{
    public ServedModel(ModelDefinition definition, IReadOnlyList<ModelVersion> versions, string fingerprint)
    {
        Definition = definition;
        Versions = versions;
        Fingerprint = fingerprint;
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

    /// <summary>The files this was loaded from (paths, sizes, times), for change polling.</summary>
    public string Fingerprint { get; }

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
