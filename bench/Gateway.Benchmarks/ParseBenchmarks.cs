using BenchmarkDotNet.Attributes;
using Gateway.Protocol;
using Gateway.Repository;

namespace Gateway.Benchmarks;

/// <summary>
/// <see cref="InferRequestParser"/> on JSON bodies: every element goes through the JSON reader,
/// so the cost grows with the tensor (16, 25 088 and 150 528 FP32 values).
/// </summary>
[MemoryDiagnoser]
public class JsonParseBenchmarks
{
    private ParseBench _bench = null!;

    [ParamsSource(nameof(Cases))]
    public PayloadCase Case { get; set; } = null!;

    public static IEnumerable<PayloadCase> Cases() =>
    [
        PayloadCase.Json("identity", 0, "[1,16]"),
        PayloadCase.Json("mlp", 3, "[32,784]"),
        PayloadCase.Json("mobilenet_v2", 0, "[1,3,224,224]"),
    ];

    [GlobalSetup]
    public void Setup() => _bench = new ParseBench(Case);

    /// <summary>Parse and check one request, then return its pooled memory.</summary>
    [Benchmark]
    public string? Parse() => _bench.ParseOnce();
}

/// <summary>
/// <see cref="InferRequestParser"/> on Triton binary-extension bodies: only the JSON header is
/// read; tensors stay views into the body.
/// </summary>
[MemoryDiagnoser]
public class BinaryParseBenchmarks
{
    private ParseBench _bench = null!;

    [ParamsSource(nameof(Cases))]
    public PayloadCase Case { get; set; } = null!;

    public static IEnumerable<PayloadCase> Cases() =>
    [
        PayloadCase.BinaryCase("identity", 0, "[1,16]"),
        PayloadCase.BinaryCase("mobilenet_v2", 0, "[1,3,224,224]"),
    ];

    [GlobalSetup]
    public void Setup() => _bench = new ParseBench(Case);

    [Benchmark]
    public string? Parse() => _bench.ParseOnce();
}

/// <summary>One reusable request parsed over and over, as the handler's pooled context is.</summary>
internal sealed class ParseBench
{
    private readonly PayloadCase _case;
    private readonly ModelVersion _model;
    private readonly InferRequest _request = new();

    public ParseBench(PayloadCase payload)
    {
        var models = BenchModels.Shared;
        _case = payload.Prepare(models.Fixtures);
        _model = models.Get(payload.Model);
        var error = ParseOnce();
        if (error is not null)
        {
            throw new InvalidOperationException($"{payload}: the benchmark body does not parse: {error}");
        }
    }

    public string? ParseOnce()
    {
        _request.Start(_model);
        var error = InferRequestParser.Parse(_request, _case.Header, _case.Binary, _case.IsBinary);
        _request.Reset();
        return error;
    }
}
