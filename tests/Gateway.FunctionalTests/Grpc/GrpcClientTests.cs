using System.Net;
using System.Runtime.InteropServices;
using Gateway.FunctionalTests.Auth;
using Gateway.Grpc.V2;
using Gateway.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.FunctionalTests.Grpc;

/// <summary>
/// The V2 gRPC service through Grpc.Net.Client with stubs generated from the proto file: the
/// reference samples answer the same bytes as REST's binary path, and credentials, roles and bad
/// input get the status codes Triton gives.
/// </summary>
[Collection(GrpcServerCollection.Name)]
public class GrpcClientTests(GrpcServerFixture fixture)
{
    private GatewayServer Server => fixture.Server;

    private static ModelInferRequest RawRequest(Sample sample)
    {
        var request = new ModelInferRequest { ModelName = sample.Model, Id = sample.ToString() };
        for (var i = 0; i < sample.Inputs.Length; i++)
        {
            var input = new ModelInferRequest.Types.InferInputTensor { Name = sample.InputNames[i], Datatype = sample.Inputs[i].DataType };
            input.Shape.AddRange(sample.Inputs[i].Shape);
            request.Inputs.Add(input);
            request.RawInputContents.Add(ByteString.CopyFrom(sample.Inputs[i].Data));
        }

        return request;
    }

    private static ModelInferRequest IdentityRequest()
    {
        var request = new ModelInferRequest { ModelName = "identity" };
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "INPUT0", Datatype = "FP32", Shape = { 1, 16 } };
        request.Inputs.Add(input);
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[64]));
        return request;
    }

    [Theory]
    [MemberData(nameof(ReferenceModels.AllSamples), MemberType = typeof(ReferenceModels))]
    public async Task ModelInfer_Raw_IsBitExactWithRestBinary(string model, int index)
    {
        var sample = ReferenceModels.Load(model, index);
        var response = await fixture.Admin.ModelInferAsync(RawRequest(sample));
        Assert.Equal(model, response.ModelName);
        Assert.Equal("1", response.ModelVersion);
        Assert.Equal(sample.ToString(), response.Id);
        Assert.Equal(response.Outputs.Count, response.RawOutputContents.Count);

        using var rest = await Server.PostBinaryAsync(
            $"/v2/models/{model}/infer", V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray());
        Assert.Equal(HttpStatusCode.OK, rest.StatusCode);
        var (json, binary) = await GatewayServer.ReadInferResponseAsync(rest);
        var offset = 0;
        var restOutputs = json.RootElement.GetProperty("outputs").EnumerateArray().ToArray();
        Assert.Equal(restOutputs.Length, response.Outputs.Count);
        for (var i = 0; i < restOutputs.Length; i++)
        {
            var size = restOutputs[i].GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
            Assert.Equal(restOutputs[i].GetProperty("name").GetString(), response.Outputs[i].Name);
            Assert.Equal(restOutputs[i].GetProperty("datatype").GetString(), response.Outputs[i].Datatype);
            Assert.Equal(V2Requests.Shape(restOutputs[i]), response.Outputs[i].Shape.ToArray());
            Assert.True(binary.AsSpan(offset, size).SequenceEqual(response.RawOutputContents[i].Span), $"output {response.Outputs[i].Name} differs from REST");
            offset += size;
        }

        var reference = response.Outputs.Select((o, i) => (o, i)).Single(x => x.o.Name == sample.OutputName);
        Assert.Equal(sample.Output.Shape, reference.o.Shape.ToArray());
        var values = ReferenceModels.Values(reference.o.Datatype, response.RawOutputContents[reference.i].Span);
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), values), 0, ReferenceModels.Tolerance);
    }

    [Fact]
    public async Task ModelInfer_TypedContents_MatchRaw()
    {
        var sample = ReferenceModels.Load("add_sub", 1);
        var typed = new ModelInferRequest { ModelName = "add_sub" };
        for (var i = 0; i < 2; i++)
        {
            var input = new ModelInferRequest.Types.InferInputTensor { Name = sample.InputNames[i], Datatype = "INT32", Contents = new InferTensorContents() };
            input.Shape.AddRange(sample.Inputs[i].Shape);
            input.Contents.IntContents.AddRange(MemoryMarshal.Cast<byte, int>(sample.Inputs[i].Data).ToArray());
            typed.Inputs.Add(input);
        }

        typed.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "OUTPUT1" });
        var fromTyped = await fixture.Admin.ModelInferAsync(typed);
        var fromRaw = await fixture.Admin.ModelInferAsync(RawRequest(sample));
        Assert.Equal("OUTPUT1", Assert.Single(fromTyped.Outputs).Name);
        Assert.Equal(fromRaw.RawOutputContents[1], fromTyped.RawOutputContents[0]);
    }

    [Fact]
    public async Task Metadata_And_Readiness_AsRest()
    {
        var admin = fixture.Admin;
        Assert.True((await admin.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await admin.ServerReadyAsync(new ServerReadyRequest())).Ready);
        Assert.True((await admin.ModelReadyAsync(new ModelReadyRequest { Name = "identity" })).Ready);
        Assert.True((await admin.ModelReadyAsync(new ModelReadyRequest { Name = "identity", Version = "1" })).Ready);
        Assert.False((await admin.ModelReadyAsync(new ModelReadyRequest { Name = "no_such_model" })).Ready);
        var server = await admin.ServerMetadataAsync(new ServerMetadataRequest());
        Assert.Equal("inference-gateway", server.Name);
        Assert.Contains("model_repository", server.Extensions);
        var model = await admin.ModelMetadataAsync(new ModelMetadataRequest { Name = "add_sub" });
        Assert.Equal(["INPUT0", "INPUT1"], model.Inputs.Select(i => i.Name));
        Assert.Equal("INT32", model.Inputs[0].Datatype);
        Assert.Equal(["1"], model.Versions);
        var index = await admin.RepositoryIndexAsync(new RepositoryIndexRequest { Ready = true });
        Assert.Contains(index.Models, m => m.Name == "mobilenet_v2" && m.State == "READY");
    }

    [Fact]
    public async Task Probes_NeedNoCredentials_OtherCallsDo()
    {
        var anonymous = fixture.Client();
        Assert.True((await anonymous.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await anonymous.ServerReadyAsync(new ServerReadyRequest())).Ready);
        var missing = await Assert.ThrowsAsync<RpcException>(() => anonymous.ServerMetadataAsync(new ServerMetadataRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        var bad = await Assert.ThrowsAsync<RpcException>(() => fixture.Client(GrpcServerFixture.Bearer("not-a-token")).ModelInferAsync(IdentityRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, bad.StatusCode);
    }

    [Fact]
    public async Task Roles_AndApiKeys_AsRest()
    {
        var (_, viewer, _) = await AuthApi.UserAsync(Server, "grpc-viewer", "viewer");
        var denied = await Assert.ThrowsAsync<RpcException>(() => fixture.Client(GrpcServerFixture.Bearer(viewer)).ModelInferAsync(IdentityRequest()).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains("viewer", denied.Status.Detail);
        Assert.Equal("inference-gateway", (await fixture.Client(GrpcServerFixture.Bearer(viewer)).ServerMetadataAsync(new ServerMetadataRequest())).Name);

        var (_, key) = await AuthApi.KeyAsync(Server, "grpc-worker", "worker");
        Assert.Single((await fixture.Client(GrpcServerFixture.Bearer(key)).ModelInferAsync(IdentityRequest())).Outputs);
        Assert.Single((await fixture.Client(new Metadata { { "x-api-key", key } }).ModelInferAsync(IdentityRequest())).Outputs);
        var unload = await Assert.ThrowsAsync<RpcException>(() => fixture.Client(GrpcServerFixture.Bearer(key)).RepositoryModelUnloadAsync(new RepositoryModelUnloadRequest { ModelName = "identity" }).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, unload.StatusCode);
    }

    public static TheoryData<string, StatusCode, string> BadRequests() => new()
    {
        { "unknown model", StatusCode.NotFound, "unknown model 'nope'" },
        { "unknown version", StatusCode.NotFound, "no version '7'" },
        { "unknown input", StatusCode.InvalidArgument, "unknown input 'X'" },
        { "wrong datatype", StatusCode.InvalidArgument, "datatype INT32 does not match" },
        { "bad datatype", StatusCode.InvalidArgument, "unknown datatype 'FLOAT'" },
        { "short raw", StatusCode.InvalidArgument, "raw_input_contents holds 60 bytes" },
        { "raw count", StatusCode.InvalidArgument, "raw_input_contents has 2 entries for 1 inputs" },
        { "no contents", StatusCode.InvalidArgument, "has no 'contents'" },
        { "typed count", StatusCode.InvalidArgument, "fp32_contents has 3" },
        { "negative dim", StatusCode.InvalidArgument, "non-negative" },
        { "wrong shape", StatusCode.InvalidArgument, "does not match the model's" },
        { "no inputs", StatusCode.InvalidArgument, "no 'inputs'" },
        { "unknown output", StatusCode.InvalidArgument, "unknown output 'Y'" },
        { "bad timeout", StatusCode.InvalidArgument, "parameter 'timeout'" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInput_GetsTheRightCode_NeverInternal(string what, StatusCode code, string message)
    {
        var request = IdentityRequest();
        var input = request.Inputs[0];
        switch (what)
        {
            case "unknown model": request.ModelName = "nope"; break;
            case "unknown version": request.ModelVersion = "7"; break;
            case "unknown input": input.Name = "X"; break;
            case "wrong datatype": input.Datatype = "INT32"; break;
            case "bad datatype": input.Datatype = "FLOAT"; break;
            case "short raw": request.RawInputContents[0] = ByteString.CopyFrom(new byte[60]); break;
            case "raw count": request.RawInputContents.Add(ByteString.Empty); break;
            case "no contents": request.RawInputContents.Clear(); break;
            case "typed count":
                request.RawInputContents.Clear();
                input.Contents = new InferTensorContents { Fp32Contents = { 1, 2, 3 } };
                break;
            case "negative dim": input.Shape[1] = -16; break;
            case "wrong shape": input.Shape.Add(2); break;
            case "no inputs": request.Inputs.Clear(); request.RawInputContents.Clear(); break;
            case "unknown output": request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "Y" }); break;
            case "bad timeout": request.Parameters["timeout"] = new InferParameter { StringParam = "soon" }; break;
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => fixture.Admin.ModelInferAsync(request).ResponseAsync);
        Assert.Equal(code, error.StatusCode);
        Assert.Contains(message, error.Status.Detail);
    }

    [Fact]
    public async Task UnknownMethod_IsUnimplemented()
    {
        var method = new Method<ServerLiveRequest, ServerLiveResponse>(
            MethodType.Unary, "inference.NoSuchService", "Nothing",
            Marshallers.Create(static r => r.ToByteArray(), ServerLiveRequest.Parser.ParseFrom),
            Marshallers.Create(static r => r.ToByteArray(), ServerLiveResponse.Parser.ParseFrom));
        var error = await Assert.ThrowsAsync<RpcException>(
            () => fixture.Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(GrpcServerFixture.Bearer(Server.AccessToken)), new ServerLiveRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public async Task MessageLargerThanTheBodyLimit_IsResourceExhausted()
    {
        var port = FreePort.Next();
        await using var server = await GatewayServer.StartAsync(fixture.Repository, "--Grpc:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Gateway:MaxRequestBodyBytes", "1024");
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var auth = GrpcServerFixture.Bearer(server.AccessToken);
        Assert.Single((await client.ModelInferAsync(IdentityRequest(), auth)).Outputs);
        var large = IdentityRequest();
        large.Id = new string('x', 2000);
        var error = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(large, auth).ResponseAsync);
        Assert.True(error.StatusCode == StatusCode.ResourceExhausted, error.Status.ToString());

        // The REST address is bound in code beside the gRPC port and still serves.
        using var rest = await server.Client.GetAsync("/v2/models/identity");
        Assert.Equal(HttpStatusCode.OK, rest.StatusCode);
    }

    [Fact]
    public async Task Deadline_BecomesTheSchedulingTimeout()
    {
        // A deadline long enough to be served is served; the request's timeout is what is left of it.
        var response = await fixture.Admin.ModelInferAsync(IdentityRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Single(response.Outputs);

        var request = new Gateway.Protocol.InferRequest();
        Gateway.Grpc.InferenceService.ApplyDeadline(request, DateTime.UtcNow.AddMilliseconds(250));
        Assert.InRange(request.TimeoutMicroseconds, 150_000UL, 250_000UL);
        request.TimeoutMicroseconds = 100_000;
        Gateway.Grpc.InferenceService.ApplyDeadline(request, DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(100_000UL, request.TimeoutMicroseconds);
        request.TimeoutMicroseconds = 0;
        Gateway.Grpc.InferenceService.ApplyDeadline(request, DateTime.MaxValue);
        Assert.Equal(0UL, request.TimeoutMicroseconds);
    }

    [Fact]
    public async Task HttpMetrics_CountEachCallUnderItsGrpcStatus()
    {
        // Before this, every call counted as code="200"; now under the HTTP status its grpc-status
        // stands for (trailers from the service, or the trailers-only answer of the auth middleware).
        const string Series = "gateway_http_request_duration_seconds_count{method=\"POST\",route=\"/inference.GRPCInferenceService/ModelInfer\",code=\"";
        var before = await MetricsAsync();
        await fixture.Admin.ModelInferAsync(IdentityRequest());
        await Assert.ThrowsAsync<RpcException>(() => fixture.Admin.ModelInferAsync(new ModelInferRequest(IdentityRequest()) { ModelName = "nope" }).ResponseAsync);
        var badType = IdentityRequest();
        badType.Inputs[0].Datatype = "INT8";
        await Assert.ThrowsAsync<RpcException>(() => fixture.Admin.ModelInferAsync(badType).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => fixture.Admin.ModelInferAsync(badType).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => fixture.Client(GrpcServerFixture.Bearer("not-a-token")).ModelInferAsync(IdentityRequest()).ResponseAsync);
        var after = await MetricsAsync();

        Assert.Equal(1, Count(after, Series + "200\"}") - Count(before, Series + "200\"}"));
        Assert.Equal(1, Count(after, Series + "404\"}") - Count(before, Series + "404\"}"));
        Assert.Equal(2, Count(after, Series + "400\"}") - Count(before, Series + "400\"}"));
        Assert.Equal(1, Count(after, Series + "401\"}") - Count(before, Series + "401\"}"));
    }

    private async Task<string> MetricsAsync()
    {
        using var response = await Server.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The value of the series line starting with <paramref name="series"/>, 0 when absent.</summary>
    private static long Count(string metrics, string series)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(series, StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(series.Length).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    [Fact]
    public void StartUp_LogsNoOverridingAddressesWarning()
    {
        // The fixture's server runs REST (--urls) and gRPC (Grpc:Port) side by side; Kestrel used to
        // warn that it overrode --urls with the listeners set in code.
        Assert.DoesNotContain(fixture.Server.Logs.Lines, static l => l.Contains("Overriding address", StringComparison.Ordinal));
        Assert.Equal(2, fixture.Server.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Count);
    }

    [Fact]
    public void EveryCall_IsServedByOneServiceInstance()
    {
        // Grpc.AspNetCore builds a service that is not in the container anew for every call, by
        // reflection; the gateway's builds its request pool in its constructor, so a new instance
        // per call pooled nothing and cost tens of microseconds. The activator must find it.
        var activator = fixture.Server.Services.GetRequiredService<global::Grpc.AspNetCore.Server.IGrpcServiceActivator<global::Gateway.Grpc.InferenceService>>();
        using var scope = fixture.Server.Services.CreateScope();
        var first = activator.Create(scope.ServiceProvider);
        var second = activator.Create(scope.ServiceProvider);
        Assert.False(first.Created);
        Assert.Same(first.Instance, second.Instance);
    }
}
