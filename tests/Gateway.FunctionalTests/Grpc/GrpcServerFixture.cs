using Gateway.Grpc.V2;
using Gateway.Testing;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;

namespace Gateway.FunctionalTests.Grpc;

/// <summary>One gateway serving the reference models over REST and, on its own port, gRPC.</summary>
public sealed class GrpcServerFixture : IAsyncLifetime
{
    public GatewayServer Server { get; private set; } = null!;

    public string Repository { get; private set; } = null!;

    public int GrpcPort { get; private set; }

    public GrpcChannel Channel { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Repository = ReferenceModels.CreateRepository(ReferenceModels.Names);
        GrpcPort = FreePort.Next();
        Server = await GatewayServer.StartAsync(Repository, "--Grpc:Port", GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}", new GrpcChannelOptions { MaxReceiveMessageSize = null });
    }

    /// <summary>A client of the service; every call carries <paramref name="metadata"/>.</summary>
    public GRPCInferenceService.GRPCInferenceServiceClient Client(Metadata? metadata = null) =>
        new(metadata is null ? Channel.CreateCallInvoker() : Channel.CreateCallInvoker().Intercept(m => Merge(m, metadata)));

    /// <summary>Metadata with <c>authorization: Bearer credential</c>.</summary>
    public static Metadata Bearer(string credential) => new() { { "authorization", "Bearer " + credential } };

    /// <summary>The admin's client.</summary>
    public GRPCInferenceService.GRPCInferenceServiceClient Admin => Client(Bearer(Server.AccessToken));

    private static Metadata Merge(Metadata call, Metadata extra)
    {
        foreach (var entry in extra)
        {
            call.Add(entry);
        }

        return call;
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(Repository, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class GrpcServerCollection : ICollectionFixture<GrpcServerFixture>
{
    public const string Name = "grpc server";
}
