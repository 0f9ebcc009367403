using Gateway.Testing;

namespace Gateway.FunctionalTests;

/// <summary>One gateway serving all five reference models (no config files: auto-complete),
/// plus <c>add_sub_b8</c>, the same model with a config setting max_batch_size 8.</summary>
public sealed class ReferenceServerFixture : IAsyncLifetime
{
    public GatewayServer Server { get; private set; } = null!;

    public string Repository { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Repository = ReferenceModels.CreateRepository(ReferenceModels.Names);
        var batched = Path.Combine(Repository, "add_sub_b8");
        Directory.CreateDirectory(Path.Combine(batched, "1"));
        File.CreateSymbolicLink(Path.Combine(batched, "1", "model.onnx"), ReferenceModels.ModelFile("add_sub"));
        File.WriteAllText(Path.Combine(batched, "config.json"), """
            {
              "name": "add_sub_b8",
              "backend": "onnx",
              "max_batch_size": 8,
              "input": [ { "name": "INPUT0", "data_type": "TYPE_INT32", "dims": [16] } ],
              "parameters": { "intra_op_thread_count": { "string_value": "1" } }
            }
            """);
        Server = await GatewayServer.StartAsync(Repository);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(Repository, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class ReferenceServerCollection : ICollectionFixture<ReferenceServerFixture>
{
    public const string Name = "reference server";
}
