namespace Gateway.FuzzTests;

/// <summary>
/// The parsers over byte buffers, in-process: many executions per second. Each test draws a fixed
/// sequence of mutated cases (the seed is the target's name) for its execution budget, capped in
/// time; ./build.sh fuzz runs them longer with fresh seeds. Figures land in artifacts/fuzz/.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class InProcessFuzzTests
{
    [Fact]
    public void InferParser_AnyMutatedRequest_ParsesOrNamesTheError()
    {
        var report = Fuzz.Run("infer-parser", InferCase.Gen, InferCase.Check, static c => c.ToString(), executions: 20_000, capSeconds: 8);
        Assert.True(report.Executions > 0);
    }

    [Fact]
    public void JwtReader_AnyMutatedToken_OneOfItsStatuses()
    {
        var report = Fuzz.Run("jwt-reader", JwtCase.Gen, static c => JwtCase.Check(c.Build()), static c => c.ToString(), executions: 30_000, capSeconds: 4);
        Assert.True(report.Executions > 0);
    }

    [Fact]
    public void AuthBodies_AnyMutatedBody_ReadOrRefusedWithAMessage()
    {
        var report = Fuzz.Run("auth-bodies", AuthCase.Gen, static c => AuthCase.Check(c.Endpoint.Path, c.Build()), static c => c.ToString(), executions: 30_000, capSeconds: 4);
        Assert.True(report.Executions > 0);
    }

    [Fact]
    public void ConfigReader_AnyMutatedConfig_ReadOrRefusedNamingTheFile()
    {
        var report = Fuzz.Run("config-reader", ConfigCase.Gen, static c => ConfigCase.Check(c.Build()), static c => c.ToString(), executions: 5_000, capSeconds: 5);
        Assert.True(report.Executions > 0);
    }
}
