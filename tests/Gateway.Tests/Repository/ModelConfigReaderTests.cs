using Gateway.Abstractions;
using Gateway.Repository;

namespace Gateway.Tests.Repository;

/// <summary>
/// The config reader on temporary model directories, without a server: every error it can give,
/// each asserted word for word with the file (or directory) it names. Backends are fakes with
/// fixed names, so the lists in the messages are known.
/// </summary>
public sealed class ModelConfigReaderTests : IDisposable
{
    private static readonly IBackend[] s_backends =
    [
        new FakeBackend("onnx", "onnxruntime_onnx", "model.onnx"),
        new FakeBackend("torch", "pytorch_libtorch", "model.pt"),
    ];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "config-reader-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>A model directory <c>m</c> holding <paramref name="config"/> as config.json (none when null).</summary>
    private string Model(string? config, string? modelFile = null)
    {
        var directory = Path.Combine(_root, "m");
        Directory.CreateDirectory(Path.Combine(directory, "1"));
        if (config is not null)
        {
            File.WriteAllText(Path.Combine(directory, "config.json"), config);
        }

        if (modelFile is not null)
        {
            File.WriteAllBytes(Path.Combine(directory, "1", modelFile), [0]);
        }

        return directory;
    }

    private static ModelDefinition? Read(string directory, out string error) =>
        ModelConfigReader.Read(directory, s_backends, TimeSpan.Zero, out error);

    /// <summary>(config.json's body, the message after "path: ").</summary>
    public static TheoryData<string, string> Errors => new()
    {
        // Name and backend
        { """{"name":"other","backend":"onnx"}""", "name 'other' does not match the directory name 'm'" },
        { """{"backend":"tensorrt"}""", "backend 'tensorrt' is not compiled into this gateway (available: onnx, torch)" },
        { """{"platform":"tensorflow_savedmodel"}""", "platform 'tensorflow_savedmodel' is not served by this gateway (available backends: onnx, torch)" },
        { "{}", "no backend is named and no version directory holds a model file (looked for model.onnx, model.pt)" },
        { """{"backend":"onnx","max_batch_size":-1}""", "max_batch_size must not be negative (got -1)" },

        // Instances and device
        { """{"backend":"onnx","instance_count":0}""", "instance_count must be from 1 to 64 (got 0)" },
        { """{"backend":"onnx","instance_count":65}""", "instance_count must be from 1 to 64 (got 65)" },
        { """{"backend":"onnx","instance_count":1,"instance_group":[{"count":1}]}""", "give either instance_count or instance_group, not both" },
        { """{"backend":"onnx","instance_group":[{"count":1},{"count":1}]}""", "only one instance_group is supported" },
        { """{"backend":"onnx","instance_group":[null]}""", "instance_group must hold an object (got null)" },
        { """{"backend":"onnx","instance_group":[{"count":0}]}""", "instance_group count must be from 1 to 64 (got 0)" },
        { """{"backend":"onnx","instance_group":[{"kind":"KIND_TPU"}]}""", "instance_group kind must be KIND_CPU, KIND_GPU or KIND_AUTO (got 'KIND_TPU')" },
        { """{"backend":"onnx","device":"gpu"}""", "device must be cpu, cuda or cuda:N (got 'gpu')" },
        { """{"backend":"onnx","device":"cuda:x"}""", "device must be cpu, cuda or cuda:N (got 'cuda:x')" },

        // Parameters
        { """{"backend":"onnx","parameters":{"p":"\ud800"}}""", "parameter 'p' holds text that is not valid (a lone UTF-16 surrogate escape or bytes that are not UTF-8)" },
        { """{"backend":"onnx","parameters":{"p":{"string_value":"\udc00"}}}""", "parameter 'p' holds text that is not valid (a lone UTF-16 surrogate escape or bytes that are not UTF-8)" },
        { """{"backend":"onnx","parameters":{"p":[1]}}""", "parameter 'p' must be a string, number, boolean or {\"string_value\": ...}" },

        // Inputs and outputs
        { """{"backend":"onnx","input":[null]}""", "every input must be an object (got null)" },
        { """{"backend":"onnx","input":[{"data_type":"FP32"}]}""", "every input needs a name" },
        { """{"backend":"onnx","input":[{"name":"a"},{"name":"a"}]}""", "input 'a' is listed twice" },
        { """{"backend":"onnx","input":[{"name":"a","data_type":"TYPE_NOPE"}]}""", "input 'a': unknown data_type 'TYPE_NOPE' (use TYPE_FP32, FP32, ...)" },
        { """{"backend":"onnx","input":[{"name":"a","dims":[1,1,1,1,1,1,1,1]}]}""", "input 'a': dims has more than 7 entries" },
        { """{"backend":"onnx","input":[{"name":"a","dims":[4,-2]}]}""", "input 'a': dims may hold -1 (variable) or sizes of 0 and more (got -2)" },
        { """{"backend":"onnx","output":[null]}""", "every output must be an object (got null)" },
        { """{"backend":"onnx","output":[{"name":""}]}""", "every output needs a name" },
        { """{"backend":"onnx","output":[{"name":"y"},{"name":"y"}]}""", "output 'y' is listed twice" },
        { """{"backend":"onnx","output":[{"name":"y","data_type":"FP99"}]}""", "output 'y': unknown data_type 'FP99' (use TYPE_FP32, FP32, ...)" },
        { """{"backend":"onnx","output":[{"name":"y","dims":[1,1,1,1,1,1,1,1,1]}]}""", "output 'y': dims has more than 7 entries" },
        { """{"backend":"onnx","output":[{"name":"y","dims":[-3]}]}""", "output 'y': dims may hold -1 (variable) or sizes of 0 and more (got -3)" },

        // Version policy
        { """{"backend":"onnx","version_policy":{"all":"\ud800"}}""", "version_policy.all holds text that is not valid (a lone UTF-16 surrogate escape or bytes that are not UTF-8)" },
        { """{"backend":"onnx","version_policy":{}}""", "version_policy must hold exactly one of latest, all, specific" },
        { """{"backend":"onnx","version_policy":{"all":{},"latest":{}}}""", "version_policy must hold exactly one of latest, all, specific" },
        { """{"backend":"onnx","version_policy":{"latest":{"num_versions":0}}}""", "version_policy.latest.num_versions must be at least 1 (got 0)" },
        { """{"backend":"onnx","version_policy":{"specific":{"versions":[]}}}""", "version_policy.specific.versions must list at least one version" },
        { """{"backend":"onnx","version_policy":{"specific":{}}}""", "version_policy.specific.versions must list at least one version" },

        // Dynamic batching
        { """{"backend":"onnx","dynamic_batching":{}}""", "dynamic_batching needs max_batch_size of 1 or more" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"preferred_batch_size":[2,5]}}""", "dynamic_batching.preferred_batch_size 5 must be from 1 to max_batch_size 4" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"preferred_batch_size":[0]}}""", "dynamic_batching.preferred_batch_size 0 must be from 1 to max_batch_size 4" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"max_queue_delay_microseconds":-1}}""", "dynamic_batching.max_queue_delay_microseconds must be from 0 to 60000000 (got -1)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"max_queue_delay_microseconds":60000001}}""", "dynamic_batching.max_queue_delay_microseconds must be from 0 to 60000000 (got 60000001)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"max_queue_size":-1}}""", "dynamic_batching.max_queue_size must not be negative (got -1)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"default_timeout_microseconds":-1}}""", "dynamic_batching.default_timeout_microseconds must be from 0 to 4294967294000 (got -1)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"default_timeout_microseconds":4294967294001}}""", "dynamic_batching.default_timeout_microseconds must be from 0 to 4294967294000 (got 4294967294001)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"priority_levels":17}}""", "dynamic_batching.priority_levels must be from 0 to 16 (got 17)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"priority_levels":-1}}""", "dynamic_batching.priority_levels must be from 0 to 16 (got -1)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"priority_levels":2,"default_priority_level":3}}""", "dynamic_batching.default_priority_level must be from 1 to priority_levels 2 (got 3)" },
        { """{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"priority_levels":2}}""", "dynamic_batching.default_priority_level must be from 1 to priority_levels 2 (got 0)" },

        // Access list
        { """{"backend":"onnx","access":{"roles":["root"]}}""", $"access.roles: 'root' is not a role (roles: {Gateway.Auth.Roles.Accepted})" },
        { """{"backend":"onnx","access":{"users":[""]}}""", "access.users: '': username is required" },
        { """{"backend":"onnx","access":{}}""", "access must list at least one role or user (leave it out to allow every worker)" },
        { """{"backend":"onnx","access":{"roles":[],"users":[]}}""", "access must list at least one role or user (leave it out to allow every worker)" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void BadConfig_IsRefused_WithTheMessageNamingTheFile(string config, string message)
    {
        var directory = Model(config);
        Assert.Null(Read(directory, out var error));
        Assert.Equal($"{Path.Combine(directory, "config.json")}: {message}", error);
    }

    [Fact]
    public void NoConfigAndNoModelFile_NamesTheDirectory()
    {
        var directory = Model(config: null);
        Assert.Null(Read(directory, out var error));
        Assert.Equal($"{directory}: no backend is named and no version directory holds a model file (looked for model.onnx, model.pt)", error);
    }

    [Fact]
    public void ConfigHoldingNull_IsRefused()
    {
        var directory = Model("null");
        Assert.Null(Read(directory, out var error));
        Assert.Equal($"{Path.Combine(directory, "config.json")}: the file holds null", error);
    }

    [Theory]
    [InlineData("""{"max_batch_size":"four"}""", "$.max_batch_size")]
    [InlineData("""{"backend":"onnx",""", "LineNumber: 0")]
    [InlineData("""{"instance_group":{"count":1}}""", "$.instance_group")]
    public void UnparsableConfig_GivesTheParsersMessage_AfterThePath(string config, string where)
    {
        var directory = Model(config);
        Assert.Null(Read(directory, out var error));
        var prefix = $"{Path.Combine(directory, "config.json")}: ";
        Assert.StartsWith(prefix, error);
        // The rest is System.Text.Json's own wording; it must say where the problem is.
        Assert.Contains(where, error[prefix.Length..]);
    }

    [Fact]
    public void ValidConfig_IsRead()
    {
        var directory = Model("""
            {"name":"m","backend":"torch","max_batch_size":8,"instance_group":[{"count":2,"kind":"KIND_GPU","gpus":[1]}],
             "parameters":{"a":"x","b":3,"c":true,"d":{"string_value":"y"}},
             "input":[{"name":"x","data_type":"TYPE_FP32","dims":[4]}],"output":[{"name":"y","data_type":"FP32","dims":[-1]}],
             "version_policy":{"latest":{"num_versions":2}},
             "dynamic_batching":{"preferred_batch_size":[4,2,4],"max_queue_delay_microseconds":100,"priority_levels":2,"default_priority_level":2},
             "access":{"roles":["worker"],"users":["ann"]}}
            """);
        var definition = Read(directory, out var error);
        Assert.True(definition is not null, error);
        Assert.Equal("torch", definition.Backend.Name);
        Assert.Equal("model.pt", definition.ModelFileName);
        Assert.Equal(2, definition.InstanceCount);
        Assert.Equal("cuda:1", definition.Device);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "x", ["b"] = "3", ["c"] = "true", ["d"] = "y" }, definition.Parameters);
        Assert.Equal(VersionPolicyKind.Latest, definition.VersionPolicy);
        Assert.Equal(2, definition.LatestCount);
        Assert.Equal([2, 4], definition.Scheduling.PreferredBatchSizes);
        Assert.Equal(TimeSpan.FromMicroseconds(100), definition.Scheduling.MaxQueueDelay);
        Assert.Equal(2, definition.Scheduling.DefaultPriorityLevel);
        Assert.Equal(2, definition.Scheduling.InstanceCount);
        Assert.NotNull(definition.Access);
        Assert.NotNull(definition.DeclaredSignature);
        Assert.Equal(new TensorShape([-1, 4]), definition.DeclaredSignature.Inputs[0].Shape);
    }

    [Fact]
    public void NoConfig_PicksTheBackendWhoseModelFileIsPresent()
    {
        var directory = Model(config: null, modelFile: "model.pt");
        var definition = Read(directory, out var error);
        Assert.True(definition is not null, error);
        Assert.Equal("torch", definition.Backend.Name);
        Assert.Null(definition.ConfigPath);
    }

    private sealed class FakeBackend(string name, string platform, string modelFile) : IBackend
    {
        public string Name => name;

        public string Platform => platform;

        public string DefaultModelFileName => modelFile;

        public LoadResult Load(ModelLoadRequest request) => throw new InvalidOperationException("the reader never loads a model");
    }
}
