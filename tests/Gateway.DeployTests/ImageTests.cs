using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.DeployTests.Engine;
using Gateway.Testing;
using Xunit.Abstractions;

namespace Gateway.DeployTests;

/// <summary>
/// The images <c>./build.sh image</c> builds from Dockerfile.aot with the engine, run as an
/// operator runs them: read-only root filesystem, uid 65532, every capability dropped, a tmpfs at
/// /tmp and the models read-only. The Docker HEALTHCHECK of the image must report healthy and an
/// inference must answer the reference output; the CPU image must stay within 60 MiB compressed.
/// </summary>
public sealed class ImageTests(ITestOutputHelper output)
{
    private const long MaxCompressedBytes = 60L * 1024 * 1024;
    private const string AdminPassword = "image-test-admin-passphrase";

    [Fact]
    public async Task CpuImage_IsSmall_HasNoShell_AndServesReadOnlyAsNonRoot()
    {
        await Docker.RequireImageAsync(Docker.CpuImage);
        var size = await Docker.CompressedSizeAsync(Docker.CpuImage);
        Report.Write(output, $"{Docker.CpuImage}: {size} bytes compressed ({size / 1048576.0:F1} MiB)");
        Assert.InRange(size, 5L * 1024 * 1024, MaxCompressedBytes);

        Assert.Equal("65532:65532", await Docker.InspectAsync(Docker.CpuImage, "{{.Config.User}}"));
        Assert.Contains("--probe", await Docker.InspectAsync(Docker.CpuImage, "{{json .Config.Healthcheck.Test}}"));
        // No shell and no package manager in the runtime image.
        var (code, shell) = await Docker.TryAsync("run", "--rm", "--entrypoint", "/bin/sh", Docker.CpuImage, "-c", "true");
        Assert.True(code != 0, "the image runs /bin/sh: " + shell);

        var models = Docker.CreateReadableRepository(("identity", "identity.onnx"));
        try
        {
            await RunAndInferAsync(Docker.CpuImage, models, "identity", "onnxruntime_onnx");
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }

    /// <summary>
    /// <c>./build.sh image</c> keeps the next build's cache under tags of its own and removes the
    /// untagged stages that earlier builds left behind once the tags moved (several GB a build:
    /// a reused machine's disk once filled). Without the labels, the tags or the prune, stage
    /// images of this or an earlier build are left untagged here.
    /// </summary>
    [Fact]
    public async Task ImageBuild_TagsItsCache_AndLeavesNoUntaggedStagesBehind()
    {
        await Docker.RequireImageAsync(Docker.CpuImage);
        Assert.Equal("cpu", await Docker.InspectAsync(Docker.CpuImage, "{{index .Config.Labels \"inference-gateway.stage\"}}"));
        var name = Docker.CpuImage[..Docker.CpuImage.LastIndexOf(':')];
        foreach (var stage in (string[])["build", "rootfs"])
        {
            foreach (var variant in (string[])["cpu", "cpu-torch"])
            {
                await Docker.RequireImageAsync($"{name}-{stage}:{variant}");
            }

            // Only the build's own stages: the deploy test's broken image derives from the cpu one.
            var left = await Docker.RunAsync("images", "--quiet", "--filter", "dangling=true", "--filter", $"label=inference-gateway.stage={stage}");
            Assert.True(left.Trim().Length == 0, $"untagged {stage}-stage images left behind by the image build: {left}");
        }
    }

    [Fact]
    public async Task CpuTorchImage_ServesATorchScriptModel_ReadOnlyAsNonRoot()
    {
        await Docker.RequireImageAsync(Docker.CpuTorchImage);
        var size = await Docker.CompressedSizeAsync(Docker.CpuTorchImage);
        Report.Write(output, $"{Docker.CpuTorchImage}: {size} bytes compressed ({size / 1048576.0:F1} MiB)");

        var models = Docker.CreateReadableRepository(("identity", "identity.pt"));
        File.WriteAllText(Path.Combine(models, "identity", "config.json"), """
            {
              "backend": "torch",
              "max_batch_size": 8,
              "input": [{ "name": "INPUT0", "data_type": "TYPE_FP32", "dims": [16] }],
              "output": [{ "name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [16] }]
            }
            """);
        Docker.MakeReadable(models);
        try
        {
            await RunAndInferAsync(Docker.CpuTorchImage, models, "identity", "pytorch_libtorch");
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }

    private async Task RunAndInferAsync(string image, string models, string model, string platform)
    {
        var name = "gateway-imagetest-" + Guid.NewGuid().ToString("N")[..8];
        await Docker.RunAsync("run", "-d", "--name", name,
            "--read-only", "--user", "65532:65532", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--tmpfs", "/tmp:size=64m", "-v", $"{models}:/models:ro",
            "-e", $"Auth__BootstrapAdminPassword={AdminPassword}",
            "-p", "127.0.0.1::8080", image);
        try
        {
            // The image's own HEALTHCHECK (the binary probing /v2/health/ready) says healthy.
            await Docker.WaitHealthyAsync(name, TimeSpan.FromSeconds(90));
            var pid = await Docker.PidAsync(name);
            Assert.All(Docker.ProcessUids(pid), static uid => Assert.Equal(65532, uid));

            var address = new Uri("http://" + (await Docker.RunAsync("port", name, "8080")).Split('\n')[0].Trim());
            var (token, _) = await Api.RequireLoginAsync(address, "admin", AdminPassword);
            using var client = Api.Client(address, token);
            var metadata = await Api.SendAsync(client, HttpMethod.Get, $"/v2/models/{model}");
            Assert.True(metadata.Status == HttpStatusCode.OK, metadata.ToString());
            Assert.Equal(platform, metadata.Json.GetProperty("platform").GetString());

            var sample = ReferenceModels.Load(model, 1);
            using var response = await client.PostAsync($"/v2/models/{model}/infer", new StringContent(V2Requests.Json(sample), Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            using var json = JsonDocument.Parse(text);
            Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), V2Requests.Data(V2Requests.Output(json, sample.OutputName))), 0, ReferenceModels.Tolerance);
            Report.Write(output, $"{image}: healthy as uid 65532 with a read-only root; {model} ({platform}) answered the reference output");
        }
        finally
        {
            var (_, logs) = await Docker.TryAsync("logs", "--tail", "20", name);
            output.WriteLine(logs);
            await Docker.TryAsync("rm", "-f", "-v", name);
        }
    }
}
