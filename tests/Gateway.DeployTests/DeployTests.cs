using System.Net;
using Gateway.DeployTests.Engine;
using Xunit.Abstractions;

namespace Gateway.DeployTests;

/// <summary>
/// <c>./build.sh deploy</c> against the local engine and the running compose stack: a good tag
/// is rolled out replica by replica, then a deliberately broken one (its ONNX Runtime library
/// replaced by a file that is not one: it starts and turns ready, but cannot run a model) fails
/// its smoke test and the stack is rolled back to the good tag. A load of 100 requests a second
/// through nginx runs across both; during the good deploy no request may fail on a replica
/// being replaced.
/// </summary>
[Collection(ComposeStackCollection.Name)]
public sealed class DeployTests(ComposeStack stack, ITestOutputHelper output)
{
    [Fact]
    public async Task Deploy_GoodTag_ThenBrokenTag_RollsBackToTheGoodTag()
    {
        var name = Docker.CpuImage[..Docker.CpuImage.LastIndexOf(':')];
        var good = $"{name}:deploytest-good";
        var broken = $"{name}:deploytest-broken";
        await Docker.RunAsync("tag", Docker.CpuImage, good);
        var context = Directory.CreateTempSubdirectory("gateway-broken-image-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), $"FROM {Docker.CpuImage}\nCOPY libonnxruntime.so /app/libonnxruntime.so\n");
            await File.WriteAllTextAsync(Path.Combine(context, "libonnxruntime.so"), "not a shared library\n");
            var (built, builtOut, builtErr) = await Shell.RunSplitAsync("docker", ["build", "-q", "-t", broken, context], new Dictionary<string, string> { ["DOCKER_BUILDKIT"] = "0" });
            Assert.True(built == 0, builtOut + builtErr);

            var (admin, _) = await Api.RequireLoginAsync(stack.Gateway, "admin", stack.AdminPassword);
            LoadTotals goodLoad, brokenLoad;
            await using (var load = LoadRun.Start(stack.Gateway, admin, "/v2/models/identity/infer", Api.IdentityRequest().Body, 100))
            {
                var (code, text) = await DeployAsync(good);
                Report.Write(output, $"$ ./build.sh deploy {good}   (exit {code})\n{text}");
                Assert.True(code == 0, text);
                Assert.Contains($"deployed {good}", text);
                goodLoad = await load.StopAsync();
            }

            Assert.Equal($"gateway-a  {good}\ngateway-b  {good}", await StatusAsync());
            Report.Write(output, "load during the good deploy: " + goodLoad);
            // No request failed on a replica being replaced: nginx retries those on the other one,
            // and the new container comes back at the address nginx already uses.
            Assert.True(goodLoad.Ok == goodLoad.Sent && goodLoad.NotSent == 0, "clients saw failures during a good rolling deploy: " + goodLoad);

            await using (var load = LoadRun.Start(stack.Gateway, admin, "/v2/models/identity/infer", Api.IdentityRequest().Body, 100))
            {
                var (code, text) = await DeployAsync(broken);
                Report.Write(output, $"$ ./build.sh deploy {broken}   (exit {code})\n{text}");
                Assert.Equal(1, code);
                Assert.Contains($"rolling back to {good}", text);
                Assert.Contains($"rolled back to {good}", text);
                brokenLoad = await load.StopAsync();
            }

            Report.Write(output, "load during the broken deploy and its rollback: " + brokenLoad);
            Assert.Equal($"gateway-a  {good}\ngateway-b  {good}", await StatusAsync());
            using var client = Api.Client(stack.Gateway, admin);
            await Api.RequireIdentityInferenceAsync(client);
        }
        finally
        {
            Directory.Delete(context, recursive: true);
            // Back to the stack's own image for the tests after this one.
            await stack.ComposeAsync("up", "-d");
            await stack.WaitAllHealthyAsync(TimeSpan.FromSeconds(120));
            await stack.ResolvePortsAsync();
            await Docker.TryAsync("rmi", broken, good);
        }
    }

    private async Task<(int Code, string Output)> DeployAsync(string image)
    {
        var environment = new Dictionary<string, string>(stack.Environment, StringComparer.Ordinal);
        environment.Remove("GATEWAY_IMAGE");
        environment["DEPLOY_TIMEOUT"] = "90";
        var (code, stdout, stderr) = await Shell.RunSplitAsync("./build.sh", ["deploy", image], environment, timeout: TimeSpan.FromMinutes(8));
        return (code, (stdout + stderr).Trim());
    }

    private async Task<string> StatusAsync()
    {
        var (code, stdout, stderr) = await Shell.RunSplitAsync("./build.sh", ["deploy", "--status"], stack.Environment);
        Assert.True(code == 0, stdout + stderr);
        return stdout.Trim();
    }
}
