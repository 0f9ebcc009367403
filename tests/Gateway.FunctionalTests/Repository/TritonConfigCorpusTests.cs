using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Repository;

/// <summary>
/// The <c>config.pbtxt</c> corpus in <c>tests/fixtures/pbtxt</c>, written as Triton's own examples
/// are, served by a real gateway over the fixture models; and the malformed corpus, each file of
/// which must fail to load with its path, line, column and reason (the file's first line says
/// which), while the good models serve. The TorchScript example needs libtorch: the
/// Torch-category <c>TritonTorchConfigTests</c> serve it.
/// </summary>
public sealed class TritonConfigCorpusTests
{
    private static string Corpus => Path.Combine(ReferenceModels.RepositoryRoot, "tests", "fixtures", "pbtxt");

    /// <summary>The malformed corpus: (file name without .pbtxt, the error after "path: ").</summary>
    public static TheoryData<string, string> Malformed()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(Path.Combine(Corpus, "malformed"), "*.pbtxt").Order(StringComparer.Ordinal))
        {
            var first = File.ReadLines(file).First();
            data.Add(Path.GetFileNameWithoutExtension(file), first["# error: ".Length..]);
        }

        return data;
    }

    private static void Link(string repository, string model, long version, string fixture)
    {
        var directory = Path.Combine(repository, model, version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(directory);
        File.CreateSymbolicLink(Path.Combine(directory, "model.onnx"), ReferenceModels.ModelFile(fixture));
    }

    private static string CreateRepository()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-pbtxt-").FullName;
        foreach (var (model, fixture, versions) in new[] { ("mobilenet_v2", "mobilenet_v2", 1), ("add_sub", "add_sub", 1), ("identity_versions", "identity", 3) })
        {
            for (var v = 1; v <= versions; v++)
            {
                Link(repository, model, v, fixture);
            }

            File.Copy(Path.Combine(Corpus, model, "config.pbtxt"), Path.Combine(repository, model, "config.pbtxt"));
        }

        foreach (var file in Directory.GetFiles(Path.Combine(Corpus, "malformed"), "*.pbtxt"))
        {
            var model = Path.GetFileNameWithoutExtension(file);
            Link(repository, model, 1, "identity");
            File.Copy(file, Path.Combine(repository, model, "config.pbtxt"));
        }

        return repository;
    }

    [Fact]
    public async Task Corpus_IsServed_AndEveryMalformedFile_IsAnsweredWithFileLineAndReason()
    {
        var repository = CreateRepository();
        await using var server = await GatewayServer.StartAsync(repository);
        var log = string.Join("\n", server.Logs.Lines);

        // The image classifier: every reference sample, batched as its dynamic_batching says.
        for (var k = 0; k < 4; k++)
        {
            var sample = ReferenceModels.Load("mobilenet_v2", k);
            using var response = await server.PostBinaryAsync("/v2/models/mobilenet_v2/infer", V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray());
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
            var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);
            var output = V2Requests.Output(json, "logits");
            Assert.Equal(sample.Output.Shape, V2Requests.Shape(output));
            Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), ReferenceModels.Values("FP32", binary)), 0, ReferenceModels.Tolerance);
        }

        using (var config = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/mobilenet_v2/config")))
        {
            var root = config.RootElement;
            Assert.Equal(8, root.GetProperty("max_batch_size").GetInt32());
            Assert.Equal([4, 8], root.GetProperty("dynamic_batching").GetProperty("preferred_batch_size").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(64, root.GetProperty("dynamic_batching").GetProperty("default_queue_policy").GetProperty("max_queue_size").GetInt32());
        }

        // format and label_filename cannot change an answer: served, with a warning naming the line.
        var mobilenetConfig = Path.Combine(repository, "mobilenet_v2", "config.pbtxt");
        Assert.Contains(server.Logs.Lines, l => l.Contains($"{mobilenetConfig}: line 9, column 5: input 'input': format FORMAT_NCHW is ignored", StringComparison.Ordinal));
        Assert.Contains(server.Logs.Lines, l => l.Contains($"{mobilenetConfig}: line 18, column 5: output 'logits': label_filename is ignored", StringComparison.Ordinal));

        // The two-input model with an instance group of two.
        var addSub = ReferenceModels.Load("add_sub", 0);
        using (var response = await server.PostJsonAsync("/v2/models/add_sub/infer", V2Requests.Json(addSub)))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            using var json = JsonDocument.Parse(body);
            Assert.InRange(ReferenceModels.MaxAbsDiff(addSub.Output.Values(), V2Requests.Data(V2Requests.Output(json, "OUTPUT0"))), 0, 0);
        }

        using (var config = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/add_sub/config")))
        {
            Assert.Equal(2, config.RootElement.GetProperty("instance_count").GetInt32());
            Assert.Equal("onnx", config.RootElement.GetProperty("backend").GetString());
        }

        // The version policy: versions 1 and 3 of the three on disk.
        using (var metadata = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/identity_versions")))
        {
            Assert.Equal(["3", "1"], metadata.RootElement.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        }

        foreach (var (version, expected) in new[] { ("1", HttpStatusCode.OK), ("2", HttpStatusCode.NotFound), ("3", HttpStatusCode.OK) })
        {
            using var ready = await server.Client.GetAsync($"/v2/models/identity_versions/versions/{version}/ready");
            Assert.Equal(expected, ready.StatusCode);
        }

        var identity = ReferenceModels.Load("identity", 1);
        using (var response = await server.PostJsonAsync("/v2/models/identity_versions/versions/1/infer", V2Requests.Json(identity)))
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        // The malformed corpus: each model fails with its file, line, column and reason, in the
        // log and in the model's answer; the rest of the repository is served regardless.
        foreach (var row in Malformed())
        {
            var (model, message) = ((string)row[0], (string)row[1]);
            var expected = $"{Path.Combine(repository, model, "config.pbtxt")}: {message}";
            Assert.True(
                server.Logs.Lines.Any(l => l.Contains($"Model {model} ", StringComparison.Ordinal) && l.Contains("failed to load") && l.Contains(expected, StringComparison.Ordinal)),
                $"expected a failure for {model}: {expected}\n{log}");
            using var response = await server.Client.GetAsync($"/v2/models/{model}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Contains(expected, json.RootElement.GetProperty("error").GetString());
        }
    }
}
