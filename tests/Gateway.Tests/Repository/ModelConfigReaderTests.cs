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

    /// <summary>A model directory <c>m</c> holding <paramref name="text"/> as config.pbtxt.</summary>
    private string ModelText(string text)
    {
        var directory = Model(config: null);
        File.WriteAllText(Path.Combine(directory, "config.pbtxt"), text);
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

    /// <summary>(config.pbtxt's text, the message after "path: ", which names the line and column).</summary>
    public static TheoryData<string, string> TextErrors => new()
    {
        // The text itself
        { "name \"m\"", "line 1, column 6: expected ':' or '{' after field 'name', found '\"'" },
        { "input {\n  name: \"x\"\n", "line 3, column 1: the message opened at line 1, column 7 is not closed (expected '}')" },

        // Fields: unknown, Triton's but not implemented, the gateway's older names, repeated, mistyped
        { "backend: \"onnxruntime\"\nmax_batch_sise: 4", "line 2, column 1: 'max_batch_sise' is not a field of ModelConfig that this gateway knows (see docs/TRITON.md)" },
        { "backend: \"onnxruntime\"\nsequence_batching { max_sequence_idle_microseconds: 5000000 }", "line 2, column 1: sequence_batching is a field of Triton's ModelConfig that this gateway does not implement (see docs/TRITON.md)" },
        { "backend: \"onnxruntime\"\nmodel_warmup [ { name: \"zeros\" batch_size: 1 } ]", "line 2, column 1: model_warmup is a field of Triton's ModelConfig that this gateway does not implement (see docs/TRITON.md)" },
        { "max_batch_size: 4\ndynamic_batching {\n  max_queue_size: 8\n}", "line 3, column 3: dynamic_batching.max_queue_size is not a field of dynamic_batching (Triton has it as dynamic_batching.default_queue_policy.max_queue_size)" },
        { "input [ { name: \"x\" dims: [ 4 ] is_shape_tensor: false } ]", "line 1, column 33: 'is_shape_tensor' is not a field of input that this gateway knows (see docs/TRITON.md)" },
        { "max_batch_size: 1\nmax_batch_size: 2", "line 2, column 1: max_batch_size is given twice (first at line 1); it takes one value" },
        { "max_batch_size: \"8\"", "line 1, column 17: max_batch_size must be a 32-bit integer (got \"8\")" },
        { "max_batch_size: 4294967296", "line 1, column 17: max_batch_size must be a 32-bit integer (got 4294967296)" },
        { "max_batch_size: 1.5", "line 1, column 17: max_batch_size must be a 32-bit integer (got 1.5)" },
        { "backend: onnxruntime", "line 1, column 10: backend must be a string in quotes (got onnxruntime)" },
        { "input { name: \"x\" data_type: \"TYPE_FP32\" }", "line 1, column 30: input[0].data_type must be a name such as TYPE_FP32, without quotes (got \"TYPE_FP32\")" },
        { "input { name: \"x\" optional: yes }", "line 1, column 29: input[0].optional must be true or false (got yes)" },
        { "dynamic_batching: 4", "line 1, column 19: dynamic_batching must be a message { ... }, not a single value" },
        { "name { }", "line 1, column 6: name takes a value, not a message" },
        { "parameters { key: \"a\" value { string_value: \"1\" } }\nparameters { key: \"a\" value { string_value: \"2\" } }", "line 2, column 14: parameters: the key 'a' is given twice (first at line 1)" },
        { "parameters { key: \"a\" }", "line 1, column 12: parameters: an entry needs both a key and a value" },
        { "parameters { key: \"a\" value: \"1\" }", "line 1, column 30: parameters.a: the value must be a message { ... }" },

        // The checks shared with config.json, pointing at the field's line
        { "name: \"other\"\nbackend: \"onnxruntime\"", "line 1, column 1: name 'other' does not match the directory name 'm'" },
        { "backend: \"tensorflow\"", "line 1, column 1: backend 'tensorflow' is not compiled into this gateway (available: onnx, torch)" },
        { "platform: \"onnxruntime_onnx\"\nbackend: \"pytorch\"", "line 1, column 1: platform 'onnxruntime_onnx' and backend 'pytorch' name different backends" },
        { "backend: \"onnxruntime\"\nmax_batch_size: 4\ndynamic_batching {\n  preferred_batch_size: [ 2, 5 ]\n}", "line 4, column 3: dynamic_batching.preferred_batch_size 5 must be from 1 to max_batch_size 4" },
        { "backend: \"onnxruntime\"\ndynamic_batching { }", "line 2, column 1: dynamic_batching needs max_batch_size of 1 or more" },
        { "backend: \"onnxruntime\"\ninput [\n  { name: \"a\" },\n  { name: \"b\" data_type: TYPE_FP128 }\n]", "line 4, column 15: input 'b': unknown data_type 'TYPE_FP128' (use TYPE_FP32, FP32, ...)" },
        { "backend: \"onnxruntime\"\noutput { name: \"y\" dims: [ -2 ] }", "line 2, column 20: output 'y': dims may hold -1 (variable) or sizes of 0 and more (got -2)" },
        { "backend: \"onnxruntime\"\ninput { name: \"x\" dims: [ 1 ] reshape: { shape: [ ] } }", "line 2, column 31: input 'x': reshape is not implemented (only a reshape equal to dims is accepted)" },
        { "backend: \"onnxruntime\"\ninput { name: \"x\" dims: [ 4 ] optional: true }", "line 2, column 31: input 'x': optional inputs are not implemented (every input must be sent)" },
        { "backend: \"onnxruntime\"\ninstance_group [ { count: 1 }, { count: 1 kind: KIND_GPU } ]", "line 2, column 32: only one instance_group is supported" },
        { "backend: \"onnxruntime\"\ninstance_group { count: 65 }", "line 2, column 18: instance_group count must be from 1 to 64 (got 65)" },
        { "backend: \"onnxruntime\"\nversion_policy: { latest: { num_versions: 0 } }", "line 2, column 29: version_policy.latest.num_versions must be at least 1 (got 0)" },
        { "backend: \"onnxruntime\"\nversion_policy: { all { } specific { versions: 1 } }", "line 2, column 1: version_policy must hold exactly one of latest, all, specific" },
        { "backend: \"onnxruntime\"\nmax_batch_size: 4\ndynamic_batching {\n  default_queue_policy { timeout_action: DELAY }\n}", "line 4, column 26: dynamic_batching.default_queue_policy.timeout_action must be REJECT (got 'DELAY'; DELAY is not implemented)" },
        { "backend: \"onnxruntime\"\nmax_batch_size: 4\ndynamic_batching {\n  default_queue_policy { max_queue_size: -1 }\n}", "line 4, column 26: dynamic_batching.default_queue_policy.max_queue_size must not be negative (got -1)" },
        { "backend: \"onnxruntime\"\nmax_batch_size: 4\ndynamic_batching {\n  priority_levels: 2\n  default_priority_level: 1\n  priority_queue_policy { key: 2 value { max_queue_size: 4 } }\n}", "line 6, column 27: dynamic_batching.priority_queue_policy.2 differs from the default queue policy; per-level queue policies are not implemented (one queue bound and timeout serve every level)" },
        { "backend: \"onnxruntime\"\nmax_batch_size: 4\ndynamic_batching {\n  priority_levels: 2\n  default_priority_level: 1\n  priority_queue_policy { key: 3 value { } }\n}", "line 6, column 27: dynamic_batching.priority_queue_policy: '3' is not a priority level from 1 to priority_levels 2" },
        { "backend: \"onnxruntime\"\naccess { roles: \"root\" }", $"line 2, column 1: access.roles: 'root' is not a role (roles: {Gateway.Auth.Roles.Accepted})" },
    };

    [Theory]
    [MemberData(nameof(TextErrors))]
    public void BadProtoText_IsRefused_WithTheFileLineAndReason(string text, string message)
    {
        var directory = ModelText(text);
        Assert.Null(Read(directory, out var error));
        Assert.Equal($"{Path.Combine(directory, "config.pbtxt")}: {message}", error);
    }

    [Fact]
    public void BothConfigFiles_AreRefused_NamingTheDirectory()
    {
        var directory = Model("""{"backend":"onnx"}""");
        File.WriteAllText(Path.Combine(directory, "config.pbtxt"), "backend: \"onnxruntime\"");
        Assert.Null(Read(directory, out var error));
        Assert.Equal($"{directory}: both config.json and config.pbtxt are present; keep one (neither takes precedence)", error);
    }

    /// <summary>The same configuration as <see cref="ValidConfig_IsRead"/>, in Triton's text format and names.</summary>
    [Fact]
    public void ValidProtoText_IsRead_AsTheSameDefinition()
    {
        var directory = ModelText("""
            name: "m"
            backend: "pytorch"
            max_batch_size: 8
            instance_group [ { count: 2, kind: KIND_GPU, gpus: [ 1 ] } ]
            parameters { key: "a" value { string_value: "x" } }
            parameters: { key: "d" value: { string_value: "y" } }
            input [ { name: "x", data_type: TYPE_FP32, dims: [ 4 ], optional: false } ]
            output [ { name: "y", data_type: TYPE_FP32, dims: [ -1 ], reshape: { shape: [ -1 ] } } ]
            version_policy: { latest: { num_versions: 2 } }
            dynamic_batching {
              preferred_batch_size: [ 4, 2, 4 ]
              max_queue_delay_microseconds: 100
              priority_levels: 2
              default_priority_level: 2
              default_queue_policy { max_queue_size: 16, default_timeout_microseconds: 5000, timeout_action: REJECT }
              priority_queue_policy { key: 1 value { max_queue_size: 16, default_timeout_microseconds: 5000 } }
            }
            access { roles: [ "worker" ] users: "ann" }
            """);
        var definition = Read(directory, out var error);
        Assert.True(definition is not null, error);
        Assert.Equal(Path.Combine(directory, "config.pbtxt"), definition.ConfigPath);
        Assert.Equal("torch", definition.Backend.Name);
        Assert.Equal("model.pt", definition.ModelFileName);
        Assert.Equal(2, definition.InstanceCount);
        Assert.Equal("cuda:1", definition.Device);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "x", ["d"] = "y" }, definition.Parameters);
        Assert.Equal(VersionPolicyKind.Latest, definition.VersionPolicy);
        Assert.Equal(2, definition.LatestCount);
        Assert.Equal([2, 4], definition.Scheduling.PreferredBatchSizes);
        Assert.Equal(TimeSpan.FromMicroseconds(100), definition.Scheduling.MaxQueueDelay);
        Assert.Equal(16, definition.Scheduling.MaxQueueSize);
        Assert.Equal(TimeSpan.FromMicroseconds(5000), definition.Scheduling.DefaultTimeout);
        Assert.False(definition.Scheduling.AllowTimeoutOverride);
        Assert.Equal(2, definition.Scheduling.DefaultPriorityLevel);
        Assert.NotNull(definition.Access);
        Assert.NotNull(definition.DeclaredSignature);
        Assert.Equal(new TensorShape([-1, 4]), definition.DeclaredSignature.Inputs[0].Shape);
        Assert.Empty(definition.Warnings);
    }

    [Theory]
    [InlineData("""{"backend":"onnxruntime"}""", "onnx")]
    [InlineData("""{"backend":"pytorch"}""", "torch")]
    [InlineData("""{"platform":"pytorch_libtorch"}""", "torch")]
    [InlineData("""{"backend":"onnxruntime","platform":"onnxruntime_onnx"}""", "onnx")]
    public void TritonBackendAndPlatformNames_AreAccepted(string config, string backend)
    {
        var definition = Read(Model(config), out var error);
        Assert.True(definition is not null, error);
        Assert.Equal(backend, definition.Backend.Name);
    }

    [Fact]
    public void JsonWithTritonsQueuePolicy_IsRead()
    {
        var definition = Read(Model("""
            {"backend":"onnxruntime","max_batch_size":4,"dynamic_batching":{"priority_levels":2,"default_priority_level":1,
             "default_queue_policy":{"max_queue_size":8,"default_timeout_microseconds":2000,"timeout_action":"REJECT","allow_timeout_override":true},
             "priority_queue_policy":{"2":{"max_queue_size":8,"default_timeout_microseconds":2000,"allow_timeout_override":true}}}}
            """), out var error);
        Assert.True(definition is not null, error);
        Assert.Equal(8, definition.Scheduling.MaxQueueSize);
        Assert.Equal(TimeSpan.FromMicroseconds(2000), definition.Scheduling.DefaultTimeout);
        Assert.True(definition.Scheduling.AllowTimeoutOverride);
    }

    [Fact]
    public void JsonWithTheOlderFlatQueueFields_KeepsRequestTimeoutsInForce()
    {
        var definition = Read(Model("""{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"max_queue_size":8,"default_timeout_microseconds":2000}}"""), out var error);
        Assert.True(definition is not null, error);
        Assert.Equal(8, definition.Scheduling.MaxQueueSize);
        Assert.True(definition.Scheduling.AllowTimeoutOverride);
    }

    [Fact]
    public void JsonWithBothQueueForms_IsRefused()
    {
        var directory = Model("""{"backend":"onnx","max_batch_size":4,"dynamic_batching":{"max_queue_size":8,"default_queue_policy":{"max_queue_size":8}}}""");
        Assert.Null(Read(directory, out var error));
        Assert.Equal($"{Path.Combine(directory, "config.json")}: give the queue policy either in dynamic_batching.default_queue_policy or as dynamic_batching.max_queue_size and default_timeout_microseconds, not both", error);
    }

    [Fact]
    public void FieldsThatCannotChangeAnswers_AreIgnoredWithAWarningNamingTheLine()
    {
        var directory = ModelText("""
            backend: "onnxruntime"
            max_batch_size: 2
            input { name: "x" format: FORMAT_NCHW }
            output { name: "y" label_filename: "labels.txt" }
            instance_group { name: "cpus" count: 1 }
            dynamic_batching { preserve_ordering: true }
            """);
        var definition = Read(directory, out var error);
        Assert.True(definition is not null, error);
        var path = Path.Combine(directory, "config.pbtxt");
        Assert.Equal<string>(
        [
            $"{path}: line 3, column 19: input 'x': format FORMAT_NCHW is ignored (a layout hint; the shape is what is checked)",
            $"{path}: line 4, column 20: output 'y': label_filename is ignored (the classification extension is not served)",
            $"{path}: line 5, column 18: instance_group name 'cpus' is ignored (groups are not named here)",
            $"{path}: line 6, column 20: dynamic_batching.preserve_ordering is ignored (every request has its own response, so there is no order to keep)",
        ], definition.Warnings);
    }

    /// <summary>The good corpus of tests/fixtures/pbtxt, read without a server (served in the functional tests).</summary>
    [Fact]
    public void TritonStyleCorpus_IsRead()
    {
        var corpus = Path.Combine(Gateway.Testing.ReferenceModels.RepositoryRoot, "tests", "fixtures", "pbtxt");
        ModelDefinition ReadCorpus(string model)
        {
            var directory = Path.Combine(_root, model);
            Directory.CreateDirectory(Path.Combine(directory, "1"));
            File.Copy(Path.Combine(corpus, model, "config.pbtxt"), Path.Combine(directory, "config.pbtxt"));
            var definition = Read(directory, out var error);
            Assert.True(definition is not null, error);
            return definition;
        }

        var classifier = ReadCorpus("mobilenet_v2");
        Assert.Equal("onnx", classifier.Backend.Name);
        Assert.True(classifier.Scheduling.Batching);
        Assert.Equal([4, 8], classifier.Scheduling.PreferredBatchSizes);
        Assert.Equal(64, classifier.Scheduling.MaxQueueSize);
        Assert.Equal(TimeSpan.FromSeconds(30), classifier.Scheduling.DefaultTimeout);
        Assert.Equal(2, classifier.Warnings.Count);

        var addSub = ReadCorpus("add_sub");
        Assert.Equal(2, addSub.InstanceCount);
        Assert.Equal("1", addSub.Parameters["intra_op_thread_count"]);
        Assert.Equal(["INPUT0", "INPUT1"], addSub.DeclaredSignature!.Inputs.Select(i => i.Name));

        // TorchScript names no tensors: the declared ones are the signature, with the batch dimension.
        var torch = ReadCorpus("mlp_torch");
        Assert.Equal("torch", torch.Backend.Name);
        Assert.Equal("model.pt", torch.ModelFileName);
        Assert.NotNull(torch.DeclaredSignature);
        Assert.Equal("input: FP32 [-1,784]", torch.DeclaredSignature.Inputs[0].ToString());
        Assert.Equal("logits: FP32 [-1,10]", torch.DeclaredSignature.Outputs[0].ToString());
        Assert.Equal(16, torch.Scheduling.MaxBatchSize);

        var versions = ReadCorpus("identity_versions");
        Assert.Equal(VersionPolicyKind.Specific, versions.VersionPolicy);
        Assert.Equal([3L, 1L], versions.SelectVersions([1, 2, 3]));
    }

    private sealed class FakeBackend(string name, string platform, string modelFile) : IBackend
    {
        public string Name => name;

        public string Platform => platform;

        public string DefaultModelFileName => modelFile;

        public LoadResult Load(ModelLoadRequest request) => throw new InvalidOperationException("the reader never loads a model");
    }
}
