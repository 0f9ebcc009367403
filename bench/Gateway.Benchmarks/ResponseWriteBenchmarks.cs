using BenchmarkDotNet.Attributes;
using Gateway.Abstractions;
using Gateway.Protocol;

namespace Gateway.Benchmarks;

/// <summary>
/// <see cref="InferResponseWriter"/> writing the JSON part of a response from real ONNX Runtime
/// outputs: JSON data for identity [1,16], mlp [32,10] and mobilenet_v2 [1,1000]; for a binary
/// response only the header is JSON.
/// </summary>
[MemoryDiagnoser]
public class ResponseWriteBenchmarks
{
    private InferContext _context = null!;
    private RunOutputs _outputs = null!;

    [ParamsSource(nameof(Cases))]
    public PayloadCase Case { get; set; } = null!;

    public static IEnumerable<PayloadCase> Cases() =>
    [
        PayloadCase.Json("identity", 0, "[1,16]"),
        PayloadCase.Json("mlp", 3, "[32,784]"),
        PayloadCase.Json("mobilenet_v2", 0, "[1,3,224,224]"),
        PayloadCase.BinaryCase("mobilenet_v2", 0, "[1,3,224,224]"),
    ];

    [GlobalSetup]
    public void Setup()
    {
        var models = BenchModels.Shared;
        var payload = Case.Prepare(models.Fixtures);
        var model = models.Get(payload.Model);
        _context = new InferContext();
        var request = _context.Request;
        request.Start(model);
        var error = InferRequestParser.Parse(request, payload.Header, payload.Binary, payload.IsBinary);
        if (error is not null)
        {
            throw new InvalidOperationException($"{payload}: {error}");
        }

        var result = model.Runner.Run(request.BuildTensors(), request.Outputs.AsSpan(0, request.OutputCount));
        _outputs = result.Outputs ?? throw new InvalidOperationException($"{payload}: {result.Error?.Message}");
        if (Write() <= 0)
        {
            throw new InvalidOperationException($"{payload}: the writer wrote nothing");
        }
    }

    /// <summary>Writes the response JSON into the pooled buffer; returns JSON plus binary bytes.</summary>
    [Benchmark]
    public long Write()
    {
        _context.Response.Reset();
        _context.Json.Reset(_context.Response);
        var error = InferResponseWriter.Write(_context.Json, _context.Request, _outputs, out var binaryLength);
        return error is null ? _context.Response.WrittenCount + binaryLength : -1;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _outputs.Dispose();
        _context.Reset();
    }
}
