using System.Net;
using Gateway.Repository;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.FunctionalTests.Torch;

/// <summary>
/// Torch models that cannot load report why, naming the file, and the gateway serves the rest.
/// These need no working libtorch, so they run with the other functional tests on the host.
/// </summary>
public class TorchLoadErrorTests
{
    [Fact]
    public async Task TorchModelWithoutDeclaredTensors_FailsNamingTheConfig_OthersServe()
    {
        var repository = TorchModels.CreateRepository("onnx", "identity");
        try
        {
            var directory = Path.Combine(repository, "mlp");
            Directory.CreateDirectory(Path.Combine(directory, "1"));
            File.CreateSymbolicLink(Path.Combine(directory, "1", "model.pt"), ReferenceModels.ModelFile("mlp", "pt"));
            var config = Path.Combine(directory, "config.json");
            File.WriteAllText(config, """{ "backend": "torch", "input": [ { "name": "input", "data_type": "TYPE_FP32", "dims": [-1, 784] } ] }""");

            await using var server = await GatewayServer.StartAsync(repository);
            var reason = Reason(server, "mlp");
            Assert.Contains(config, reason);
            Assert.Contains("must list every input and output with name, data_type and dims", reason);
            using var response = await server.PostJsonAsync("/v2/models/identity/infer",
                """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]}]}""");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    [Fact]
    public async Task ModelPtWithoutConfig_IsPickedForTorch_AndAsksForTheConfig()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-torch-repo-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(repository, "mlp", "1"));
            File.CreateSymbolicLink(Path.Combine(repository, "mlp", "1", "model.pt"), ReferenceModels.ModelFile("mlp", "pt"));
            await using var server = await GatewayServer.StartAsync(repository);
            var reason = Reason(server, "mlp");
            Assert.Contains("config.json (absent)", reason);
            Assert.Contains("carries no signature", reason);
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    [Fact]
    public async Task LibTorchPathWithoutLibtorch_IsAModelLoadErrorNamingPathAndLibrary()
    {
        var repository = TorchModels.CreateRepository("torch", "mlp");
        var empty = Directory.CreateTempSubdirectory("libtorch-empty-").FullName;
        try
        {
            await using var server = await GatewayServer.StartAsync(repository, "--Torch:LibTorchPath", empty);
            var reason = Reason(server, "mlp");
            Assert.Contains(Path.Combine(empty, "libc10.so"), reason);
            Assert.Contains("does not exist", reason);
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public async Task LibTorchPathWithBrokenLibraries_IsAModelLoadErrorWithTheLoadersReason()
    {
        var repository = TorchModels.CreateRepository("torch", "mlp");
        var broken = Directory.CreateTempSubdirectory("libtorch-broken-").FullName;
        try
        {
            foreach (var file in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
            {
                File.WriteAllText(Path.Combine(broken, file), string.Concat(Enumerable.Repeat("this is not a shared library\n", 40)));
            }

            await using var server = await GatewayServer.StartAsync(repository, "--Torch:LibTorchPath", broken);
            var reason = Reason(server, "mlp");
            Assert.Contains("libtorch could not be loaded: " + Path.Combine(broken, "libc10.so"), reason);
            Assert.Contains("ELF", reason);
            Assert.False(Reason(server, "mlp").Contains('\n'), "the reason is one line");
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
            Directory.Delete(broken, recursive: true);
        }
    }

    [Fact]
    public async Task LibTorchPathBlank_FailsAtStartNamingTheKey()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-torch-repo-").FullName;
        try
        {
            var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
                () => GatewayServer.StartAsync(repository, "--Torch:LibTorchPath", " "));
            Assert.Contains("Torch:LibTorchPath", ex.Message);
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    private static string Reason(GatewayServer server, string model)
    {
        var rows = server.Services.GetRequiredService<ModelRepository>().Index().Where(r => r.Name == model).ToList();
        var row = Assert.Single(rows);
        Assert.Equal(ModelState.Unavailable, row.State);
        return row.Reason;
    }
}
