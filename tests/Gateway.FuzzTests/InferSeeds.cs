using System.Buffers.Binary;
using System.Text;
using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.FuzzTests;

/// <summary>A valid infer request to start mutating from: the model, the JSON part and any binary tensor data.</summary>
internal sealed record InferSeed(string Model, string Json, byte[]? Binary)
{
    public JNode Tree { get; } = JNode.Parse(Json);

    public override string ToString() => $"{Model}: {(Json.Length > 200 ? Json[..200] + "…" : Json)}{(Binary is null ? string.Empty : $" + {Binary.Length} binary bytes")}";
}

/// <summary>
/// The seeds: every reference model's sample 0 as JSON and as binary (mobilenet's 150 528 values
/// only as binary), a batched model, and models of the datatypes the references lack (BYTES,
/// FP16, BF16, BOOL, UINT8, INT8, UINT64), with every request and output parameter.
/// </summary>
internal static class InferSeeds
{
    private static readonly Lazy<Dictionary<string, ModelVersion>> s_models = new(LoadModels);

    public static IReadOnlyDictionary<string, ModelVersion> Models => s_models.Value;

    public static readonly Lazy<InferSeed[]> All = new(Build);

    private static Dictionary<string, ModelVersion> LoadModels()
    {
        var models = new Dictionary<string, ModelVersion>(StringComparer.Ordinal);
        var backend = new OnnxBackend();
        foreach (var name in ReferenceModels.Names)
        {
            var runner = backend.Load(new ModelLoadRequest { ModelName = name, Version = 1, ModelPath = ReferenceModels.ModelFile(name) }).Runner!;
            models[name] = Version(name, runner, runner.Signature, maxBatchSize: 0);
        }

        models["add_sub_b8"] = Version("add_sub_b8", models["add_sub"].Runner, models["add_sub"].Signature, maxBatchSize: 8);
        foreach (var type in new[] { DataType.Bytes, DataType.FP16, DataType.BF16, DataType.Bool, DataType.UInt8, DataType.Int8, DataType.UInt64 })
        {
            var shape = new TensorShape([-1, -1]);
            var signature = new ModelSignature([new TensorSpec("X", type, shape)], [new TensorSpec("Y", type, shape)]);
            models["x_" + type.Name()] = Version("x_" + type.Name(), models["identity"].Runner, signature, maxBatchSize: 0);
        }

        return models;
    }

    private static ModelVersion Version(string name, IModelRunner runner, ModelSignature signature, int maxBatchSize)
    {
        var definition = new ModelDefinition
        {
            Name = name,
            Backend = new OnnxBackend(),
            Config = new ModelConfig { MaxBatchSize = maxBatchSize },
            Scheduling = new SchedulingPolicy { MaxBatchSize = maxBatchSize, PriorityLevels = 3, DefaultPriorityLevel = 2 },
        };
        return new ModelVersion(definition, 1, runner, signature, new SchedulerFactory(TimeProvider.System, NullLogger.Instance));
    }

    private static InferSeed[] Build()
    {
        var seeds = new List<InferSeed>();
        foreach (var name in ReferenceModels.Names)
        {
            var sample = ReferenceModels.Load(name, 0);
            if (name != "mobilenet_v2")
            {
                seeds.Add(new InferSeed(name, V2Requests.Json(sample), null));
            }

            seeds.Add(new InferSeed(name, V2Requests.BinaryHeader(sample), sample.Inputs.SelectMany(i => i.Data).ToArray()));
        }

        var sixteen = "[" + string.Join(",", Enumerable.Range(0, 16)) + "]";
        seeds.Add(new InferSeed("identity", """{"id":"a\u00e9\ud83d\ude00","inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[[0,1,2,3,4,5,6,7],[8,9,10,11,12,13,"NaN","Infinity"]],"parameters":{"custom":"x"}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":false}}],"parameters":{"priority":1,"timeout":1000000,"binary_data_output":true}}""", null));
        seeds.Add(new InferSeed("identity", "{\"inputs\":[{\"data\":" + sixteen + ",\"shape\":[1,16],\"datatype\":\"FP32\",\"name\":\"INPUT0\"}]}", null));
        seeds.Add(new InferSeed("add_sub_b8", "{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"INT32\",\"shape\":[2,16],\"data\":[" + sixteen + "," + sixteen + "]},{\"name\":\"INPUT1\",\"datatype\":\"INT32\",\"shape\":[2,16],\"parameters\":{\"binary_data_size\":128}}]}", new byte[128]));
        seeds.Add(new InferSeed("x_BYTES", """{"inputs":[{"name":"X","datatype":"BYTES","shape":[1,3],"data":["a","\u00e9\ud83d\ude00",""]}]}""", null));
        seeds.Add(new InferSeed("x_BYTES", """{"inputs":[{"name":"X","datatype":"BYTES","shape":[1,2],"parameters":{"binary_data_size":13}}]}""", Framed("abc", "defgh")));
        seeds.Add(new InferSeed("x_FP16", """{"inputs":[{"name":"X","datatype":"FP16","shape":[1,4],"data":[65504,-0.5,"NaN","-Infinity"]}]}""", null));
        seeds.Add(new InferSeed("x_BF16", """{"inputs":[{"name":"X","datatype":"BF16","shape":[2,1],"data":[3.0e38,1e-40]}]}""", null));
        seeds.Add(new InferSeed("x_BOOL", """{"inputs":[{"name":"X","datatype":"BOOL","shape":[1,3],"data":[true,false,true]}]}""", null));
        seeds.Add(new InferSeed("x_UINT8", """{"inputs":[{"name":"X","datatype":"UINT8","shape":[1,2],"parameters":{"binary_data_size":2}}]}""", [1, 255]));
        seeds.Add(new InferSeed("x_INT8", """{"inputs":[{"name":"X","datatype":"INT8","shape":[1,2],"data":[-128,127]}]}""", null));
        seeds.Add(new InferSeed("x_UINT64", """{"inputs":[{"name":"X","datatype":"UINT64","shape":[1,2],"data":[0,18446744073709551615]}]}""", null));
        return [.. seeds];
    }

    /// <summary>BYTES elements as Triton frames them: a little-endian uint32 length before each.</summary>
    public static byte[] Framed(params string[] elements)
    {
        var stream = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        foreach (var element in elements)
        {
            var bytes = Encoding.UTF8.GetBytes(element);
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
            stream.Write(length);
            stream.Write(bytes);
        }

        return stream.ToArray();
    }
}
