using System.Runtime.InteropServices;
using Gateway.Abstractions;
using Gateway.Testing;
using TorchSharp;

namespace Gateway.Backends.Torch.Tests;

/// <summary>The Torch backend on the reference TorchScript files, with libtorch's CPU build.</summary>
[Trait("Category", "Torch")]
public class TorchBackendTests
{
    private static readonly TorchBackend s_backend = new(new TorchBackendOptions());

    internal static ModelSignature Declared(string model)
    {
        var (inputs, outputs) = TorchModels.Declarations[model];
        return new ModelSignature(Array.ConvertAll(inputs, Spec), Array.ConvertAll(outputs, Spec));

        static TensorSpec Spec(TensorDeclaration d)
        {
            Assert.True(DataTypes.TryParse(d.DataType, out var type));
            return new TensorSpec(d.Name, type, new TensorShape(d.Dims));
        }
    }

    private static LoadResult Load(string model, ModelSignature? signature, string device = "cpu", Dictionary<string, string>? parameters = null, string? path = null) =>
        s_backend.Load(new ModelLoadRequest
        {
            ModelName = model,
            Version = 1,
            ModelPath = path ?? ReferenceModels.ModelFile(model, "pt"),
            Device = device,
            Parameters = parameters ?? [],
            DeclaredSignature = signature,
            ConfigPath = $"/repo/{model}/config.json",
        });

    internal static IModelRunner LoadFixture(string model)
    {
        var result = Load(model, Declared(model));
        Assert.True(result.Error is null, result.Error?.Message);
        return result.Runner!;
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
        var result = runner.Run(Array.ConvertAll(sample.Inputs, ToTensor), [0]);
        Assert.True(result.Error is null, result.Error?.Message);
        using var outputs = result.Outputs!;
        Assert.Equal(1, outputs.Count);
        Assert.Equal(new TensorShape(sample.Output.Shape), outputs.GetShape(0));
        Assert.Equal(runner.Signature.Outputs[0].DataType, outputs.GetDataType(0));
        // The reference output is PyTorch's float32 result even where the model returns INT32 (add_sub).
        var actual = ReferenceModels.Values(outputs.GetDataType(0).Name(), outputs.GetData(0));
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), actual), 0, ReferenceModels.Tolerance);
    }

    [Fact]
    public void RepeatedRuns_ReuseFreedMemory_InsteadOfFaultingItInAgain()
    {
        // TorchBackendOptions.RetainAllocatorMemory (on by default): glibc keeps the blocks a
        // forward pass frees for the next one. With glibc's defaults each mobilenet_v2 run here
        // faulted in its intermediate tensors afresh (thousands of minor faults a run).
        using var runner = LoadFixture("mobilenet_v2");
        Assert.True(TorchRuntime.AllocatorRetainsMemory, "glibc did not accept the allocator settings");
        var inputs = Array.ConvertAll(ReferenceModels.Load("mobilenet_v2", 0).Inputs, ToTensor);
        for (var i = 0; i < 3; i++)
        {
            RunOnce();
        }

        const int Runs = 10;
        var before = MinorFaults();
        for (var i = 0; i < Runs; i++)
        {
            RunOnce();
        }

        // The count is the whole process's (the GC and other threads fault too): 1 to about 120 a
        // run were seen with the setting, about 3,600 without.
        var perRun = (MinorFaults() - before) / (double)Runs;
        Assert.True(perRun < 1000, $"{perRun:0} minor page faults per run (about 3,600 with glibc's defaults)");

        void RunOnce()
        {
            var result = runner.Run(inputs, [0]);
            Assert.Null(result.Error);
            result.Outputs!.Dispose();
        }
    }

    /// <summary>The process's minor page faults so far (/proc/self/stat, field 10).</summary>
    private static long MinorFaults()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Run_TupleOutputs_InRequestedOrder()
    {
        var sample = ReferenceModels.Load("add_sub", 1);
        using var runner = LoadFixture("add_sub");
        var result = runner.Run(Array.ConvertAll(sample.Inputs, ToTensor), [1, 0]);
        Assert.Null(result.Error);
        using var outputs = result.Outputs!;
        Assert.Equal(2, outputs.Count);
        var a = sample.Inputs[0].Values();
        var b = sample.Inputs[1].Values();
        var difference = ReferenceModels.Values("INT32", outputs.GetData(0));
        var sum = ReferenceModels.Values("INT32", outputs.GetData(1));
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i] - b[i], difference[i]);
            Assert.Equal(a[i] + b[i], sum[i]);
        }
    }

    [Fact]
    public void Signature_IsTheDeclaredOne_OnTheCpu()
    {
        using var runner = LoadFixture("bert_tiny");
        Assert.Equal(["input_ids", "attention_mask"], runner.Signature.Inputs.Select(i => i.Name));
        Assert.Equal(new TensorShape([-1, -1, 128]), runner.Signature.Outputs[0].Shape);
        Assert.Equal("cpu", runner.Device);
    }

    [Fact]
    public unsafe void FromBlob_WrapsTheCallersMemory_WithoutCopying()
    {
        using var runner = LoadFixture("identity");
        var data = GC.AllocateArray<float>(32, pinned: true);
        data[5] = 2.5f;
        fixed (float* pointer = data)
        {
            using var tensor = TorchNative.FromBlob(pointer, [2, 16], torch.ScalarType.Float32, DeviceType.CPU, 0);
            fixed (byte* storage = tensor.bytes)
            {
                Assert.Equal((nint)pointer, (nint)storage);
            }

            data[6] = 7f;
            Assert.Equal(7f, tensor[0, 6].ToSingle());
        }
    }

    [Fact]
    public void Run_MisalignedInput_IsCopiedAndCorrect()
    {
        var sample = ReferenceModels.Load("mlp", 1);
        var shifted = new byte[sample.Inputs[0].Data.Length + 1];
        sample.Inputs[0].Data.CopyTo(shifted, 1);
        using var runner = LoadFixture("mlp");
        var input = new Tensor(DataType.FP32, new TensorShape(sample.Inputs[0].Shape), shifted.AsMemory(1));
        var result = runner.Run([input], [0]);
        Assert.Null(result.Error);
        using var outputs = result.Outputs!;
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), ReferenceModels.Values("FP32", outputs.GetData(0))), 0, ReferenceModels.Tolerance);
    }

    [Fact]
    public void Run_EmptyBatch_ReturnsEmptyOutputs()
    {
        using var runner = LoadFixture("add_sub");
        var empty = new Tensor(DataType.Int32, new TensorShape([0, 16]), ReadOnlyMemory<byte>.Empty);
        var result = runner.Run([empty, empty], [0, 1]);
        Assert.Null(result.Error);
        using var outputs = result.Outputs!;
        Assert.Equal(new TensorShape([0, 16]), outputs.GetShape(0));
        Assert.Equal(0, outputs.GetData(1).Length);
    }

    [Fact]
    public void Run_ByteCountNotMatchingShape_IsInvalidInput()
    {
        using var runner = LoadFixture("identity");
        var result = runner.Run([new Tensor(DataType.FP32, new TensorShape([2, 16]), new byte[100])], [0]);
        Assert.Equal(BackendErrorKind.InvalidInput, result.Error!.Value.Kind);
        Assert.Contains("INPUT0", result.Error.Value.Message);
    }

    [Fact]
    public void Run_SequenceLongerThanTheModelTakes_IsInvalidInputWithTorchsReason()
    {
        using var runner = LoadFixture("bert_tiny");
        var ids = new Tensor(DataType.Int64, new TensorShape([1, 600]), new byte[600 * 8]);
        var result = runner.Run([ids, ids], [0]);
        Assert.Equal(BackendErrorKind.InvalidInput, result.Error!.Value.Kind);
        Assert.Contains("600", result.Error.Value.Message);
        Assert.DoesNotContain("frame #", result.Error.Value.Message);
    }

    [Fact]
    public void Run_ConcurrentCallers_EachGetTheirOwnResult()
    {
        using var runner = LoadFixture("add_sub");
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var a = new int[16];
            Array.Fill(a, i);
            var bytes = MemoryMarshal.AsBytes(a.AsSpan()).ToArray();
            var tensor = new Tensor(DataType.Int32, new TensorShape([1, 16]), bytes);
            var result = runner.Run([tensor, tensor], [0]);
            Assert.Null(result.Error);
            using var outputs = result.Outputs!;
            Assert.All(MemoryMarshal.Cast<byte, int>(outputs.GetData(0)).ToArray(), v => Assert.Equal(2 * i, v));
        });
    }

    [Fact]
    public void Run_ThousandRuns_LeaveNoLiveTensor()
    {
        var sample = ReferenceModels.Load("add_sub", 3);
        using var runner = LoadFixture("add_sub");
        var inputs = Array.ConvertAll(sample.Inputs, ToTensor);
        runner.Run(inputs, [0]).Outputs!.Dispose();
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 1000; i++)
        {
            // Only one of the two outputs is taken: the other must be freed as well.
            var result = runner.Run(inputs, [i % 2]);
            Assert.Null(result.Error);
            result.Outputs!.Dispose();
        }

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Load_NoDeclaredSignature_NamesTheConfigAndWhatItMustList()
    {
        var result = Load("mlp", signature: null);
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains("/repo/mlp/config.json", result.Error.Value.Message);
        Assert.Contains("name, data_type and dims", result.Error.Value.Message);
    }

    [Fact]
    public void Load_DeclaredOutputCountWrong_IsALoadErrorNamingTheConfig()
    {
        var declared = Declared("add_sub");
        var result = Load("add_sub", new ModelSignature(declared.Inputs, [declared.Outputs[0]]));
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains("/repo/add_sub/config.json", result.Error.Value.Message);
        Assert.Contains("returned 2 output(s), but the configuration declares 1", result.Error.Value.Message);
    }

    [Fact]
    public void Load_DeclaredOutputTypeOrShapeWrong_IsALoadErrorNamingTheOutput()
    {
        var declared = Declared("mlp");
        var wrongType = Load("mlp", new ModelSignature(declared.Inputs, [new TensorSpec("logits", DataType.Int64, new TensorShape([-1, 10]))]));
        Assert.Contains("output 'logits' came back as FP32 [1,10], but the configuration declares INT64 [-1,10]", wrongType.Error!.Value.Message);
        var wrongShape = Load("mlp", new ModelSignature(declared.Inputs, [new TensorSpec("logits", DataType.FP32, new TensorShape([-1, 1000]))]));
        Assert.Contains("declares FP32 [-1,1000]", wrongShape.Error!.Value.Message);
    }

    [Fact]
    public void Load_DeclaredInputsWrong_IsALoadErrorWithTorchsReason()
    {
        var declared = Declared("bert_tiny");
        var result = Load("bert_tiny", new ModelSignature([declared.Inputs[0]], declared.Outputs));
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains("warm-up", result.Error.Value.Message);
        Assert.Contains("attention_mask", result.Error.Value.Message);
    }

    [Fact]
    public void Load_TypeLibtorchCannotHold_IsALoadError()
    {
        var result = Load("identity", new ModelSignature([new TensorSpec("INPUT0", DataType.UInt32, new TensorShape([-1, 16]))], Declared("identity").Outputs));
        Assert.Contains("input 'INPUT0' is UINT32, which libtorch cannot hold", result.Error!.Value.Message);
    }

    [Fact]
    public void Load_FileNotTorchScript_IsALoadErrorNamingTheFile()
    {
        var path = ReferenceModels.ModelFile("mlp", "onnx");
        var result = Load("mlp", Declared("mlp"), path: path);
        Assert.Equal(BackendErrorKind.LoadFailed, result.Error!.Value.Kind);
        Assert.Contains(path, result.Error.Value.Message);
    }

    [Fact]
    public void Load_CudaWithTheCpuLibtorch_IsUnavailableAndSaysWhy()
    {
        var result = Load("mlp", Declared("mlp"), device: "cuda:0");
        Assert.Equal(BackendErrorKind.Unavailable, result.Error!.Value.Kind);
        Assert.Contains("libtorch_cuda.so", result.Error.Value.Message);
        Assert.Contains("Torch:LibTorchPath", result.Error.Value.Message);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    public void Load_BadDevice_IsALoadError(string device)
    {
        var result = Load("mlp", Declared("mlp"), device: device);
        Assert.Contains($"device '{device}'", result.Error!.Value.Message);
    }

    [Fact]
    public void Load_UnknownParameter_IsALoadError()
    {
        var result = Load("mlp", Declared("mlp"), parameters: new() { ["intra_op_thread_count"] = "1" });
        Assert.Contains("unknown parameter 'intra_op_thread_count'", result.Error!.Value.Message);
        Assert.Contains("Torch:IntraOpThreads", result.Error.Value.Message);
    }

    [Fact]
    public void Load_OtherLibTorchPathOnceLoaded_IsRefusedByName()
    {
        using var runner = LoadFixture("identity");
        var other = Directory.CreateTempSubdirectory("libtorch-").FullName;
        foreach (var file in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            File.WriteAllText(Path.Combine(other, file), "not a library");
        }

        var backend = new TorchBackend(new TorchBackendOptions { LibTorchPath = other });
        var result = backend.Load(new ModelLoadRequest { ModelName = "identity", Version = 1, ModelPath = ReferenceModels.ModelFile("identity", "pt"), DeclaredSignature = Declared("identity") });
        Assert.Equal(BackendErrorKind.Unavailable, result.Error!.Value.Kind);
        Assert.Contains("already loaded from", result.Error.Value.Message);
        Assert.Contains(other, result.Error.Value.Message);
    }
}
