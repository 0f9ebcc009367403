using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Protocol;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Scheduling;

/// <summary>Real models (ONNX Runtime on the fixtures) wrapped as versions with a chosen scheduling policy.</summary>
internal static class TestModels
{
    public static ModelVersion Load(string fixture, SchedulingPolicy policy, TimeProvider time, int maxBatchSize = 0)
    {
        var path = ReferenceModels.ModelFile(fixture);
        var runner = new OnnxBackend().Load(new ModelLoadRequest { ModelName = fixture, Version = 1, ModelPath = path }).Runner!;
        var definition = new ModelDefinition
        {
            Name = fixture,
            Backend = new OnnxBackend(),
            Config = new ModelConfig { MaxBatchSize = maxBatchSize > 0 ? maxBatchSize : policy.MaxBatchSize },
            Scheduling = policy,
            InstanceCount = policy.InstanceCount,
        };
        return new ModelVersion(definition, 1, runner, runner.Signature, new SchedulerFactory(time, NullLogger.Instance));
    }

    /// <summary>A parsed request for <paramref name="model"/> from a JSON body.</summary>
    public static InferRequest Request(ModelVersion model, string json)
    {
        var request = new InferRequest();
        request.Start(model);
        var body = System.Text.Encoding.UTF8.GetBytes(json);
        var error = InferRequestParser.Parse(request, body, default, hasBinaryHeader: false);
        Assert.Null(error);
        return request;
    }

    /// <summary>An identity request with <paramref name="rows"/> rows whose values start at <paramref name="first"/>.</summary>
    public static InferRequest Identity(ModelVersion model, int rows, float first = 0, uint priority = 0)
    {
        var values = string.Join(",", Enumerable.Range(0, rows * 16).Select(i => (first + i).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var parameters = priority > 0 ? $",\"parameters\":{{\"priority\":{priority}}}" : string.Empty;
        return Request(model, $"{{\"inputs\":[{{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[{rows},16],\"data\":[{values}]}}]{parameters}}}");
    }
}
