using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Hosting;
using Gateway.Perf;
using Gateway.Repository;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Benchmarks;

/// <summary>
/// The reference models loaded once per benchmark process through the real repository and
/// ONNX Runtime backend, with the fixtures' samples.
/// </summary>
internal sealed class BenchModels : IDisposable
{
    private static readonly Lazy<BenchModels> s_shared = new(static () => new BenchModels(["identity", "mlp", "mobilenet_v2"]));

    private readonly string _root;

    private BenchModels(string[] models)
    {
        RepositoryRoot = Samples.FindRepositoryRoot(AppContext.BaseDirectory);
        Fixtures = Path.Combine(RepositoryRoot, "tests", "fixtures", "models");
        _root = Samples.CreateRepository(Fixtures, models);
        Options = new GatewayOptions { ModelRepository = _root };
        Repository = new ModelRepository(Microsoft.Extensions.Options.Options.Create(Options), [new OnnxBackend()], TimeProvider.System, new Gateway.Scheduling.SchedulerFactory(TimeProvider.System, NullLogger.Instance), NullLogger<ModelRepository>.Instance);
        Repository.LoadAllAsync(CancellationToken.None).GetAwaiter().GetResult();
        foreach (var model in models)
        {
            if (!Repository.TryGetModel(model, out _))
            {
                throw new InvalidOperationException($"model {model} did not load from {_root}");
            }
        }
    }

    /// <summary>The models of this process, loaded on first use.</summary>
    public static BenchModels Shared => s_shared.Value;

    public string RepositoryRoot { get; }

    public string Fixtures { get; }

    public GatewayOptions Options { get; }

    public ModelRepository Repository { get; }

    /// <summary>The served (latest) version of <paramref name="model"/>.</summary>
    public ModelVersion Get(string model) =>
        Repository.TryGetModel(model, out var served) ? served.Latest : throw new ArgumentException($"model {model} is not loaded", nameof(model));

    public void Dispose()
    {
        Repository.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}

/// <summary>One request body of a benchmark: model, sample, and JSON or binary encoding.</summary>
public sealed class PayloadCase
{
    private PayloadCase(string model, int sample, string shape, bool binary)
    {
        Model = model;
        SampleIndex = sample;
        Shape = shape;
        IsBinary = binary;
    }

    public string Model { get; }

    public int SampleIndex { get; }

    /// <summary>The sample's input shape as shown in result tables, such as <c>[32,784]</c>.</summary>
    public string Shape { get; }

    /// <summary>Triton binary extension (inputs and outputs binary) rather than JSON.</summary>
    public bool IsBinary { get; }

    internal Sample Sample { get; private set; } = null!;

    internal byte[] Body { get; private set; } = [];

    /// <summary>Length of the JSON part; the whole body for JSON requests.</summary>
    internal int HeaderLength { get; private set; }

    internal ReadOnlyMemory<byte> Header => Body.AsMemory(0, HeaderLength);

    internal ReadOnlyMemory<byte> Binary => Body.AsMemory(HeaderLength);

    public static PayloadCase Json(string model, int sample, string shape) => new(model, sample, shape, binary: false);

    public static PayloadCase BinaryCase(string model, int sample, string shape) => new(model, sample, shape, binary: true);

    /// <summary>Reads the sample and builds the body (called from a benchmark's setup).</summary>
    internal PayloadCase Prepare(string fixtures)
    {
        if (Sample is not null)
        {
            return this;
        }

        Sample = Samples.Load(fixtures, Model, SampleIndex);
        var actual = $"[{string.Join(',', Sample.Inputs[0].Shape)}]";
        if (actual != Shape)
        {
            throw new InvalidOperationException($"{Model} sample {SampleIndex} has shape {actual}, not {Shape}");
        }

        if (IsBinary)
        {
            (Body, HeaderLength) = Samples.BinaryBody(Sample);
        }
        else
        {
            Body = Samples.JsonBody(Sample);
            HeaderLength = Body.Length;
        }

        return this;
    }

    /// <summary>Reads like <c>json mlp [32,784]</c>.</summary>
    public override string ToString() => $"{(IsBinary ? "binary" : "json")} {Model} {Shape}";
}
