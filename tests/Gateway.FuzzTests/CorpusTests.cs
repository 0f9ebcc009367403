namespace Gateway.FuzzTests;

/// <summary>Every corpus case against its parser in-process: the regression half of the fuzzing.</summary>
public sealed class CorpusTests
{
    public static TheoryData<string> InferCases() => [.. Corpus.Infer().Select(static c => c.Name)];

    [Theory]
    [MemberData(nameof(InferCases))]
    public void InferCase_ParsesOrNamesTheError(string name)
    {
        var c = Corpus.Infer().Single(c => c.Name == name);
        var model = c.Fields["model"];
        if (!InferSeeds.Models.ContainsKey(model))
        {
            return; // a model name that is an attack on the route: the HTTP runs cover it
        }

        var outcome = InferCase.Check(model, (c.Body, c.Fields.GetValueOrDefault("header-length")));
        Assert.False(string.IsNullOrWhiteSpace(outcome));
    }

    [Fact]
    public void JwtCases_OneOfTheStatuses_NoneValid()
    {
        foreach (var (name, token) in Corpus.Jwt())
        {
            Assert.NotEqual("Valid", JwtCase.Check(token));
            _ = name;
        }
    }

    [Fact]
    public void AuthCases_ReadOrRefusedWithAMessage()
    {
        foreach (var c in Corpus.Auth())
        {
            var outcome = AuthCase.Check(c.Fields["endpoint"].Split(' ')[1], c.Body);
            Assert.False(string.IsNullOrWhiteSpace(outcome), c.Name);
        }
    }

    public static TheoryData<string> ConfigCases() => [.. Corpus.Config().Select(static c => c.Name)];

    [Theory]
    [MemberData(nameof(ConfigCases))]
    public void ConfigCase_RefusedNamingTheFile(string name)
    {
        var outcome = ConfigCase.Check(Corpus.Config().Single(c => c.Name == name).Config);
        // Every config case in the corpus is one the reader must refuse (each was an exception or accepted a timeout no timer waits).
        Assert.NotEqual("accepted", outcome);
    }
}
