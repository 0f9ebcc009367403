using Gateway.Abstractions;
using Gateway.Testing;

namespace Gateway.Backends.Onnx.Tests;

public class OnnxBackendTests
{
    private static IModelRunner LoadFixture(string model, Dictionary<string, string>? parameters = null) => Load(model, parameters).Runner!;

    private static LoadResult Load(string model, Dictionary<string, string>? parameters = null)
    {
        var result = new OnnxBackend().Load(new ModelLoadRequest
        {
            ModelName = model,
            Version = 1,
            ModelPath = ReferenceModels.ModelFile(model),
            Parameters = parameters ?? [],
        });
        Assert.Null(result.Error);
        return result;
    }

    private static Tensor ToTensor(SampleTensor sample)
    {
        Assert.True(DataTypes.TryParse(sample.DataType, out var type));
        return new Tensor(type, new TensorShape(sample.Shape), sample.Data);
    }

    [Theory]
    [MemberData(nameof(ReferenceModels.AllSamples), MemberType = typeof(ReferenceModels))]
    public void Run_ReferenceSamples_MatchWithinTolerance(string model, int index)
    {
        var sample = ReferenceModels.Load(model, index);
        using var runner = LoadFixture(model);
        var inputs = Array.ConvertAll(sample.Inputs, ToTensor);
        var result = runner.Run(inputs, [0]);
        Assert.Null(result.Error);
        using var outputs = result.Outputs!;
        Assert.Equal(1, outputs.Count);
        Assert.Equal(new TensorShape(sample.Output.Shape), outputs.GetShape(0));
        // The reference output is PyTorch's float32 result even where the model returns INT32 (add_sub).
        var actual = ReferenceModels.Values(outputs.GetDataType(0).Name(), outputs.GetData(0));
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), actual), 0, ReferenceModels.Tolerance);
    }

    [Fact]
    public void ShortModel_NoThreadCountConfigured_RunsOnOneIntraOpThread()
    {
        // identity runs in microseconds: the intra-op pool's per-run wake-up would cost more than the run.
        using var runner = (OnnxModelRunner)LoadFixture("identity");
        Assert.Equal(1, runner.IntraOpThreads);
        var result = runner.Run([new Tensor(DataType.FP32, new TensorShape([1, 16]), new byte[64])], [0]);
        Assert.Null(result.Error);
        result.Outputs!.Dispose();
    }

    [Theory]
    [InlineData("identity", null, true)]
    [InlineData("identity", "0", false)]
    [InlineData("mobilenet_v2", null, false)]
    public void RunsOnCallingThread_OnlyForAShortModelItMadeSingleThreaded(string model, string? intraOpThreads, bool expected)
    {
        // The repository gives such a model one instance per core (ModelRepository.InstancesPerCallingThreadModel).
        var result = Load(model, intraOpThreads is null ? null : new() { ["intra_op_thread_count"] = intraOpThreads });
        using var runner = result.Runner!;
        Assert.Equal(expected, result.RunsOnCallingThread);
    }

    [Fact]
    public void ShortModel_ThreadCountConfigured_KeepsTheConfiguration()
    {
        // An explicit 0 asks for ONNX Runtime's own default: the backend does not second-guess it.
        using var runner = (OnnxModelRunner)LoadFixture("identity", new() { ["intra_op_thread_count"] = "0" });
        Assert.Equal(0, runner.IntraOpThreads);
    }

    [Fact]
    public void LongModel_NoThreadCountConfigured_KeepsOnnxRuntimesDefault()
    {
        // mobilenet_v2 runs for milliseconds: its convolutions gain from the intra-op threads.
        using var runner = (OnnxModelRunner)LoadFixture("mobilenet_v2");
        Assert.Equal(0, runner.IntraOpThreads);
    }

    [Fact]
    public void Signature_ComesFromTheModelFile()
    {
        using var runner = LoadFixture("bert_tiny");
        var signature = runner.Signature;
        Assert.Equal(["input_ids", "attention_mask"], signature.Inputs.Select(i => i.Name));
        Assert.All(signature.Inputs, i => Assert.Equal(DataType.Int64, i.DataType));
        Assert.Equal(new TensorShape([-1, -1]), signature.Inputs[0].Shape);
        Assert.Equal("last_hidden_state", signature.Outputs[0].Name);
        Assert.Equal(new TensorShape([-1, -1, 128]), signature.Outputs[0].Shape);
        Assert.Equal("cpu", runner.Device);
    }

    [Fact]
    public void Run_SelectedOutput_OnlyThatOutput()
    {
        var sample = ReferenceModels.Load("add_sub", 1);
        using var runner = LoadFixture("add_sub");
        var result = runner.Run(Array.ConvertAll(sample.Inputs, ToTensor), [1]);
        using var outputs = result.Outputs!;
        Assert.Equal(1, outputs.Count);
        var a = sample.Inputs[0].Values();
        var b = sample.Inputs[1].Values();
        var difference = new SampleTensor("int32", sample.Output.Shape, outputs.GetData(0).ToArray()).Values();
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i] - b[i], difference[i]);
        }
    }

    [Fact]
    public void Run_ConcurrentCallers_EachGetTheirOwnResult()
    {
        using var runner = LoadFixture("mlp");
        var samples = Enumerable.Range(0, 4).Select(k => ReferenceModels.Load("mlp", k)).ToArray();
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var sample = samples[i % samples.Length];
            var result = runner.Run([ToTensor(sample.Inputs[0])], [0]);
            using var outputs = result.Outputs!;
            var actual = new SampleTensor("float32", sample.Output.Shape, outputs.GetData(0).ToArray());
            Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), actual.Values()), 0, ReferenceModels.Tolerance);
        });
    }

    [Fact]
    public void Run_WrongShape_IsAnErrorResultNotAnException()
    {
        using var runner = LoadFixture("mlp");
        var result = runner.Run([new Tensor(DataType.FP32, new TensorShape([1, 10]), new byte[40])], [0]);
        Assert.Null(result.Outputs);
        Assert.NotNull(result.Error);
        Assert.Equal(BackendErrorKind.InvalidInput, result.Error!.Value.Kind);
        Assert.Contains("input", result.Error.Value.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Run_TokenIdOutOfVocabulary_IsInvalidInput()
    {
        using var runner = LoadFixture("bert_tiny");
        var ids = new byte[8 * 8];
        BitConverter.TryWriteBytes(ids.AsSpan(0), 1_000_000L);
        var mask = new byte[8 * 8];
        for (var i = 0; i < 8; i++)
        {
            BitConverter.TryWriteBytes(mask.AsSpan(i * 8), 1L);
        }

        var result = runner.Run(
            [new Tensor(DataType.Int64, new TensorShape([1, 8]), ids), new Tensor(DataType.Int64, new TensorShape([1, 8]), mask)], [0]);
        Assert.NotNull(result.Error);
        Assert.Equal(BackendErrorKind.InvalidInput, result.Error!.Value.Kind);
    }

    [Fact]
    public void Load_UnknownParameter_NamesIt()
    {
        var result = new OnnxBackend().Load(new ModelLoadRequest
        {
            ModelName = "identity",
            Version = 1,
            ModelPath = ReferenceModels.ModelFile("identity"),
            Parameters = new Dictionary<string, string> { ["intra_op_threads_typo"] = "2" },
        });
        Assert.Null(result.Runner);
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains("intra_op_threads_typo", result.Error.Value.Message);
    }

    [Theory]
    [InlineData("intra_op_thread_count", "many")]
    [InlineData("graph_optimization_level", "maximum")]
    [InlineData("execution_provider", "tpu")]
    [InlineData("allow_spinning", "perhaps")]
    public void Load_InvalidParameterValue_NamesKeyAndValue(string key, string value)
    {
        var result = new OnnxBackend().Load(new ModelLoadRequest
        {
            ModelName = "identity",
            Version = 1,
            ModelPath = ReferenceModels.ModelFile("identity"),
            Parameters = new Dictionary<string, string> { [key] = value },
        });
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains(key, result.Error.Value.Message);
        Assert.Contains(value, result.Error.Value.Message);
    }

    [Fact]
    public void Load_ValidParameters_Apply()
    {
        using var runner = LoadFixture("mlp", new Dictionary<string, string>
        {
            ["intra_op_thread_count"] = "1",
            ["inter_op_thread_count"] = "1",
            ["graph_optimization_level"] = "basic",
            ["execution_mode"] = "sequential",
            ["allow_spinning"] = "false",
            ["enable_cpu_mem_arena"] = "true",
            ["enable_mem_pattern"] = "true",
            ["execution_provider"] = "cpu",
        });
        var sample = ReferenceModels.Load("mlp", 0);
        var result = runner.Run([ToTensor(sample.Inputs[0])], [0]);
        using var outputs = result.Outputs!;
        Assert.Equal(new TensorShape([1, 10]), outputs.GetShape(0));
    }

    [Fact]
    public void Load_CudaOnCpuBuild_IsUnavailableWithAClearMessage()
    {
        var result = new OnnxBackend().Load(new ModelLoadRequest
        {
            ModelName = "identity",
            Version = 1,
            ModelPath = ReferenceModels.ModelFile("identity"),
            Device = "cuda:0",
        });
        Assert.Null(result.Runner);
        Assert.Equal(BackendErrorKind.Unavailable, result.Error!.Value.Kind);
        Assert.Contains("CUDA", result.Error.Value.Message);
    }

    [Theory]
    [InlineData("cuda:1", null, null, 1)]
    [InlineData("cuda", null, "3", 3)]
    [InlineData("cpu", "cuda", "2", 2)]
    [InlineData("cuda:4", "cuda", null, 4)]
    public void Load_CudaByDeviceOrParameters_SelectsTheCudaProviderOnThatDevice(string device, string? provider, string? deviceId, int expected)
    {
        var parameters = new Dictionary<string, string>();
        if (provider is not null)
        {
            parameters["execution_provider"] = provider;
        }

        if (deviceId is not null)
        {
            parameters["device_id"] = deviceId;
        }

        Assert.True(OnnxSessionSettings.TryParse(parameters, device, out var settings, out var error), error);
        Assert.Equal("cuda", settings.ExecutionProvider);
        Assert.Equal($"cuda:{expected}", settings.Device);

        // This CPU build has no CUDA provider: the load fails for this model only, saying how to get one.
        var result = new OnnxBackend().Load(new ModelLoadRequest
        {
            ModelName = "identity",
            Version = 1,
            ModelPath = ReferenceModels.ModelFile("identity"),
            Device = device,
            Parameters = parameters,
        });
        Assert.Equal(BackendErrorKind.Unavailable, result.Error!.Value.Kind);
        Assert.Contains($"CUDA execution provider for device {expected}", result.Error.Value.Message);
        Assert.Contains("this build has the CPU ONNX Runtime", result.Error.Value.Message);
        Assert.Contains("-p:OnnxGpu=true", result.Error.Value.Message);
    }

    [Fact]
    public void Load_CorruptFile_IsLoadFailedNamingThePath()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "model.onnx");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8]);
        var result = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "bad", Version = 1, ModelPath = path });
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains(path, result.Error.Value.Message);
    }

    [Fact]
    public void Load_MissingFile_IsLoadFailed()
    {
        var result = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "none", Version = 1, ModelPath = "/nonexistent/model.onnx" });
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains("does not exist", result.Error.Value.Message);
    }

    [Theory]
    [InlineData("BOOL")]
    [InlineData("UINT8")]
    [InlineData("INT8")]
    [InlineData("UINT16")]
    [InlineData("INT16")]
    [InlineData("UINT32")]
    [InlineData("INT32")]
    [InlineData("UINT64")]
    [InlineData("INT64")]
    [InlineData("FP16")]
    [InlineData("BF16")]
    [InlineData("FP32")]
    [InlineData("FP64")]
    public void Run_IdentityOfEveryNumericType_ReturnsTheSameBytes(string datatype)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "model.onnx");
        File.WriteAllBytes(path, OnnxModelWriter.Identity(datatype, [-1, 4]));
        var result = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "id", Version = 1, ModelPath = path });
        Assert.Null(result.Error);
        using var runner = result.Runner!;
        Assert.True(DataTypes.TryParse(datatype, out var type));
        Assert.Equal(type, runner.Signature.Inputs[0].DataType);
        var data = new byte[2 * 4 * type.ElementSize()];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = type == DataType.Bool ? (byte)(i % 2) : (byte)(i * 7 + 1);
        }

        var run = runner.Run([new Tensor(type, new TensorShape([2, 4]), data)], [0]);
        Assert.Null(run.Error);
        using var outputs = run.Outputs!;
        Assert.Equal(type, outputs.GetDataType(0));
        Assert.Equal(data, outputs.GetData(0).ToArray());
    }

    [Fact]
    public void Run_StringIdentity_RoundTripsLengthPrefixedElements()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "model.onnx");
        File.WriteAllBytes(path, OnnxModelWriter.Identity("BYTES", [-1]));
        var result = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "s", Version = 1, ModelPath = path });
        Assert.Null(result.Error);
        using var runner = result.Runner!;
        var elements = new[] { "hello"u8.ToArray(), Array.Empty<byte>(), "wörld"u8.ToArray() };
        var stream = new MemoryStream();
        foreach (var element in elements)
        {
            stream.Write(BitConverter.GetBytes((uint)element.Length));
            stream.Write(element);
        }

        var run = runner.Run([new Tensor(DataType.Bytes, new TensorShape([3]), stream.ToArray())], [0]);
        Assert.Null(run.Error);
        using var outputs = run.Outputs!;
        Assert.Equal(DataType.Bytes, outputs.GetDataType(0));
        Assert.Equal(stream.ToArray(), outputs.GetData(0).ToArray());
    }

    [Fact]
    public void Classify_SeparatesCallerErrorsFromRuntimeFailures()
    {
        Assert.Equal(BackendErrorKind.InvalidInput, OnnxModelRunner.Classify("[ErrorCode:InvalidArgument] Got invalid dimensions"));
        Assert.Equal(BackendErrorKind.ExecutionFailed, OnnxModelRunner.Classify("[ErrorCode:Fail] CUDA failure 2: out of memory"));
    }
}
