using Gateway.Load;
using Gateway.Testing;

namespace Gateway.Load.Tests;

public sealed class LoadOptionsTests : IDisposable
{
    private readonly string _binary = Path.GetTempFileName();

    private string[] Base => ["--binary", _binary, "--models", ReferenceModels.FixturesDirectory];

    [Fact]
    public void Defaults_RunEveryScenarioAtOneCallerAndSaturation()
    {
        var options = LoadOptions.Parse(Base, out var error);

        Assert.NotNull(options);
        Assert.Equal(string.Empty, error);
        Assert.Equal(["get", "json-identity", "binary-identity", "binary-mobilenet", "binary-mobilenet-batched", "grpc-binary-identity", "grpc-mobilenet"], options.Scenarios);
        Assert.Equal([1, 16], options.Concurrency);
        Assert.True(double.IsNaN(options.Rate));
        Assert.True(options.SampleStats);
    }

    [Fact]
    public void Values_AreReadInEitherSpelling()
    {
        var options = LoadOptions.Parse(
            [.. Base, "--saturation", "8", "--concurrency=1,4,sat", "--rate", "250", "--scenarios", "get,json-identity", "--server-arg=--Logging:LogLevel:Default=Warning", "--server-env", "A=b=c"],
            out _);

        Assert.NotNull(options);
        Assert.Equal([1, 4, 8], options.Concurrency);
        Assert.Equal(250, options.Rate);
        Assert.Equal(["get", "json-identity"], options.Scenarios);
        Assert.Equal(["--Logging:LogLevel:Default=Warning"], options.ServerArgs);
        Assert.Equal([new KeyValuePair<string, string>("A", "b=c")], options.ServerEnv);
    }

    [Theory]
    [InlineData("--scenarios", "get,nope", "unknown scenario 'nope'")]
    [InlineData("--duration", "0", "--duration must be a positive number")]
    [InlineData("--concurrency", "1,x", "--concurrency must be an integer")]
    [InlineData("--rate", "-5", "--rate must be a positive number")]
    [InlineData("--wrk", "maybe", "--wrk must be on or off")]
    [InlineData("--h2load", "1", "--h2load must be on or off")]
    [InlineData("--sample-stats", "yes", "--sample-stats must be on or off")]
    [InlineData("--server-env", "NOEQUALS", "--server-env wants NAME=VALUE")]
    [InlineData("--bogus", "1", "unknown option '--bogus'")]
    [InlineData("--repo-models", "identity", "scenario binary-mobilenet needs model mobilenet_v2")]
    public void BadValues_NameTheOption(string option, string value, string expected)
    {
        var options = LoadOptions.Parse([.. Base, option, value], out var error);

        Assert.Null(options);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingBinary_SaysHowToBuildIt()
    {
        var options = LoadOptions.Parse(["--binary", "/nonexistent/gateway", "--models", ReferenceModels.FixturesDirectory], out var error);

        Assert.Null(options);
        Assert.Contains("./build.sh publish", error, StringComparison.Ordinal);
    }

    public void Dispose() => File.Delete(_binary);
}
