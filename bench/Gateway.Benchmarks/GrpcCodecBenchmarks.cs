using System.Buffers;
using BenchmarkDotNet.Attributes;
using Gateway.Abstractions;
using Gateway.Grpc;
using Gateway.Grpc.V2;
using Gateway.Perf;
using Gateway.Protocol;
using Gateway.Repository;
using Google.Protobuf;

namespace Gateway.Benchmarks;

/// <summary>
/// The gRPC codec: a <c>ModelInferRequest</c>'s bytes parsed by protobuf and checked into an
/// <see cref="InferRequest"/> (<see cref="GrpcRequestReader"/>), and a response built from the
/// outputs (<see cref="GrpcResponseWriter"/>) and serialised; beside them the REST binary parse of
/// the same sample (<see cref="BinaryParseBenchmarks"/>) for the ratio.
/// </summary>
[MemoryDiagnoser]
public class GrpcCodecBenchmarks
{
    private ModelVersion _model = null!;
    private byte[] _requestBytes = [];
    private ModelInferRequest _message = null!;
    private readonly InferRequest _request = new();
    private ArrayOutputs _outputs = null!;
    private byte[] _responseBuffer = [];

    [Params("identity", "mobilenet_v2")]
    public string Model { get; set; } = "identity";

    [GlobalSetup]
    public void Setup()
    {
        var models = BenchModels.Shared;
        _model = models.Get(Model);
        var sample = Samples.Load(models.Fixtures, Model, 0);
        _message = GrpcSamples.Request(sample);
        _requestBytes = _message.ToByteArray();
        if (Parse() is { } error)
        {
            throw new InvalidOperationException($"{Model}: the benchmark request does not parse: {error}");
        }

        // The response carries an output as large as the model's first output for this sample.
        var output = _model.Signature.Outputs[0];
        var shape = default(TensorShape);
        foreach (var dim in output.Shape.Dims)
        {
            shape.TryAdd(dim < 0 ? 1 : dim);
        }

        shape.TryGetElementCount(int.MaxValue, out var elements);
        _outputs = new ArrayOutputs(output.DataType, shape, new byte[elements * output.DataType.ElementSize()]);
        _responseBuffer = new byte[_outputs.GetData(0).Length + 1024];
    }

    /// <summary>
    /// The server's read: <see cref="ModelInferRequestReader"/> (raw contents in pooled memory)
    /// plus the signature checks; the request's memory is returned after.
    /// </summary>
    [Benchmark]
    public string? Parse()
    {
        var message = ModelInferRequestReader.Read(new ReadOnlySequence<byte>(_requestBytes));
        _request.Start(_model);
        var error = GrpcRequestReader.Read(message, _request);
        _request.Reset();
        message.ReturnPooled();
        return error;
    }

    /// <summary>
    /// The read before the pooled reader: protobuf's generated parser, which gives every raw
    /// input a new array (for an image, a large-object-heap allocation per call), plus the checks.
    /// </summary>
    [Benchmark]
    public string? ParseProtobuf()
    {
        var message = ModelInferRequest.Parser.ParseFrom(_requestBytes);
        _request.Start(_model);
        var error = GrpcRequestReader.Read(message, _request);
        _request.Reset();
        return error;
    }

    /// <summary>The response message from the outputs, serialised as gRPC would write it.</summary>
    [Benchmark]
    public int Write()
    {
        _request.Start(_model);
        _request.Outputs[0] = 0;
        _request.OutputCount = 1;
        var response = GrpcResponseWriter.Write(_message, _request, _outputs);
        var size = response.CalculateSize();
        response.WriteTo(_responseBuffer.AsSpan(0, size));
        _request.Reset();
        return size;
    }

    /// <summary>Outputs over a managed array, standing in for a backend's.</summary>
    private sealed class ArrayOutputs(DataType type, TensorShape shape, byte[] data) : RunOutputs
    {
        public override int Count => 1;

        public override DataType GetDataType(int index) => type;

        public override TensorShape GetShape(int index) => shape;

        public override ReadOnlySpan<byte> GetData(int index) => data;

        protected override void Dispose(bool disposing)
        {
        }
    }
}
