using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gateway.Grpc.V2;
using Gateway.Hosting;
using Gateway.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;

namespace Gateway.FunctionalTests.Grpc;

/// <summary>
/// TLS on the gRPC port (Grpc:Certificate): a self-signed certificate made here, as PEM files and
/// as a PKCS#12 file; Grpc.Net.Client over https trusts exactly that certificate.
/// </summary>
public class GrpcTlsTests
{
    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=gateway-grpc-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
    }

    [Theory]
    [InlineData("pem")]
    [InlineData("pfx")]
    public async Task GrpcPort_WithCertificate_ServesOverTls_AndNotCleartext(string form)
    {
        var directory = Directory.CreateTempSubdirectory("gateway-grpc-tls-").FullName;
        var repository = ReferenceModels.CreateRepository("identity");
        try
        {
            using var certificate = SelfSigned();
            string[] certificateArgs;
            if (form == "pem")
            {
                var certPath = Path.Combine(directory, "server.crt");
                var keyPath = Path.Combine(directory, "server.key");
                await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem());
                await File.WriteAllTextAsync(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
                certificateArgs = ["--Grpc:Certificate:Path", certPath, "--Grpc:Certificate:KeyPath", keyPath];
            }
            else
            {
                var pfxPath = Path.Combine(directory, "server.pfx");
                await File.WriteAllBytesAsync(pfxPath, certificate.Export(X509ContentType.Pkcs12, "test-password"));
                certificateArgs = ["--Grpc:Certificate:Path", pfxPath, "--Grpc:Certificate:Password", "test-password"];
            }

            var port = FreePort.Next();
            await using var server = await GatewayServer.StartAsync(repository, ["--Grpc:Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. certificateArgs]);
            var seen = new List<string>();
            using var handler = new SocketsHttpHandler();
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
            {
                seen.Add(presented?.GetCertHashString() ?? "none");
                return presented?.GetCertHashString() == certificate.GetCertHashString();
            };
            using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions { HttpHandler = handler });
            var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
            var metadata = new Metadata { { "authorization", "Bearer " + server.AccessToken } };

            Assert.True((await client.ServerLiveAsync(new ServerLiveRequest())).Live);
            var request = new ModelInferRequest { ModelName = "identity" };
            request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "INPUT0", Datatype = "FP32", Shape = { 1, 16 } });
            request.RawInputContents.Add(Google.Protobuf.ByteString.CopyFrom(new byte[64]));
            var response = await client.ModelInferAsync(request, metadata);
            Assert.Equal(64, response.RawOutputContents[0].Length);
            Assert.Equal(certificate.GetCertHashString(), Assert.Single(seen.Distinct()));

            // Cleartext HTTP/2 to the TLS port is not served.
            using var plain = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            var refused = await Assert.ThrowsAsync<RpcException>(() => new GRPCInferenceService.GRPCInferenceServiceClient(plain)
                .ServerLiveAsync(new ServerLiveRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
            Assert.NotEqual(StatusCode.OK, refused.StatusCode);

            // REST stays on its own cleartext address.
            using var live = await server.Client.GetAsync("/v2/health/live");
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
            Directory.Delete(repository, recursive: true);
        }
    }

    [Fact]
    public void Certificate_Unreadable_OrKeyWithoutCertificate_StopsStartUp_NamingTheKey()
    {
        var missing = Path.Combine(Path.GetTempPath(), "gateway-no-such-" + Guid.NewGuid().ToString("N") + ".pem");
        var error = Assert.Throws<InvalidOperationException>(() => GatewayHost.Build(["--urls", "http://127.0.0.1:0", "--Grpc:Port", "50051", "--Grpc:Certificate:Path", missing]));
        Assert.Contains("Grpc:Certificate:Path", error.Message);
        Assert.Contains(missing, error.Message);

        var keyOnly = Assert.Throws<OptionsValidationException>(() => GatewayHost.Build(["--urls", "http://127.0.0.1:0", "--Grpc:Port", "50051", "--Grpc:Certificate:KeyPath", missing]));
        Assert.Contains("Grpc:Certificate:KeyPath", keyOnly.Message);
    }
}
