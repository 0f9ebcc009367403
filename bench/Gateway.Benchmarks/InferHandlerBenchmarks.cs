using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol;
using Gateway.Repository;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// The V2 infer handler end to end without a network: <see cref="InferHandler.HandleAsync"/>
/// on a reused <see cref="DefaultHttpContext"/> whose request body is a replayed pipe and whose
/// response body is a memory stream. It covers body read, split, parse, checks, the model's
/// <c>Run</c>, the response writer and the pipe flush; it leaves out Kestrel's HTTP parsing,
/// routing and socket I/O (the load runner measures those). The baseline is the same
/// <c>Run</c> called directly, so Ratio reads "handler cost in units of Run".
/// </summary>
[MemoryDiagnoser]
public class InferHandlerBenchmarks
{
    private InferHandler _handler = null!;
    private InProcessExchange _exchange = null!;
    private InferContext _direct = null!;
    private ModelVersion _model = null!;

    [ParamsSource(nameof(Cases))]
    public PayloadCase Case { get; set; } = null!;

    public static IEnumerable<PayloadCase> Cases() =>
    [
        PayloadCase.Json("identity", 0, "[1,16]"),
        PayloadCase.BinaryCase("identity", 0, "[1,16]"),
        PayloadCase.Json("mlp", 3, "[32,784]"),
        PayloadCase.BinaryCase("mobilenet_v2", 0, "[1,3,224,224]"),
    ];

    [GlobalSetup]
    public void Setup()
    {
        var models = BenchModels.Shared;
        var payload = Case.Prepare(models.Fixtures);
        _model = models.Get(payload.Model);
        _handler = new InferHandler(models.Repository, Microsoft.Extensions.Options.Options.Create(models.Options), TimeProvider.System, NullLogger<InferHandler>.Instance);
        _exchange = new InProcessExchange(payload);

        Handler().GetAwaiter().GetResult();
        if (_exchange.StatusCode != StatusCodes.Status200OK)
        {
            throw new InvalidOperationException($"{payload}: the handler answered {_exchange.StatusCode}: {_exchange.ResponseText}");
        }

        // The baseline runs the very tensors the handler would run, parsed once here.
        _direct = new InferContext();
        _direct.Request.Start(_model);
        var error = InferRequestParser.Parse(_direct.Request, payload.Header, payload.Binary, payload.IsBinary);
        if (error is not null)
        {
            throw new InvalidOperationException($"{payload}: {error}");
        }
    }

    /// <summary>The model's <c>Run</c> on the parsed tensors, outputs disposed: what the handler adds to.</summary>
    [Benchmark(Baseline = true)]
    public int Run()
    {
        var request = _direct.Request;
        var result = _model.Runner.Run(request.BuildTensors(), request.Outputs.AsSpan(0, request.OutputCount));
        using var outputs = result.Outputs!;
        return outputs.Count;
    }

    /// <summary>One request through the handler, from body bytes to response bytes.</summary>
    [Benchmark]
    public Task Handler()
    {
        _exchange.Reset();
        return _handler.HandleAsync(_exchange.Context);
    }

    [GlobalCleanup]
    public void Cleanup() => _direct.Reset();
}

/// <summary>
/// A request/response pair on a <see cref="DefaultHttpContext"/> that is reused across calls, so
/// the measured allocations are the handler's own. (<see cref="HeaderDictionary"/> formats
/// <c>Content-Length</c> as a string where Kestrel keeps a number; .NET caches the strings of
/// numbers under 300, so the small cases here allocate nothing for it either.)
/// </summary>
internal sealed class InProcessExchange
{
    private readonly byte[] _body;
    private readonly ReplayPipeReader _reader = new();
    private readonly HttpResponseFeature _response = new();
    private readonly MemoryStream _responseBody = new();

    public InProcessExchange(PayloadCase payload)
    {
        _body = payload.Body;
        var request = new HttpRequestFeature
        {
            Method = HttpMethods.Post,
            Scheme = "http",
            Path = $"/v2/models/{payload.Model}/infer",
        };
        request.Headers.ContentLength = _body.Length;
        request.Headers.ContentType = payload.IsBinary ? "application/octet-stream" : "application/json";
        if (payload.IsBinary)
        {
            request.Headers[InferHandler.HeaderContentLength] = payload.HeaderLength.ToString(CultureInfo.InvariantCulture);
        }

        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(request);
        features.Set<IRequestBodyPipeFeature>(_reader);
        features.Set<IHttpResponseFeature>(_response);
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(_responseBody));
        Context = new DefaultHttpContext(features);
        Context.Request.RouteValues = new RouteValueDictionary { ["model"] = payload.Model };
    }

    public DefaultHttpContext Context { get; }

    public int StatusCode => _response.StatusCode;

    public string ResponseText => System.Text.Encoding.UTF8.GetString(_responseBody.GetBuffer(), 0, (int)_responseBody.Length);

    /// <summary>Rewinds the request body and clears the response for the next call.</summary>
    public void Reset()
    {
        _reader.Reset(_body);
        _response.StatusCode = StatusCodes.Status200OK;
        _response.Headers.Clear();
        _responseBody.SetLength(0);
    }

    /// <summary>Hands the whole body out in one read, completed, as Kestrel does for a small body that has arrived.</summary>
    private sealed class ReplayPipeReader : PipeReader, IRequestBodyPipeFeature
    {
        private ReadOnlySequence<byte> _data;

        public PipeReader Reader => this;

        public void Reset(byte[] body) => _data = new ReadOnlySequence<byte>(body);

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            new(new ReadResult(_data, isCanceled: false, isCompleted: true));

        public override bool TryRead(out ReadResult result)
        {
            result = new ReadResult(_data, isCanceled: false, isCompleted: true);
            return true;
        }

        public override void AdvanceTo(SequencePosition consumed) => _data = _data.Slice(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _data = _data.Slice(consumed);

        public override void CancelPendingRead()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }
    }
}
