using System.Text.Json;
using Gateway.Secrets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Secrets;

/// <summary>
/// A local stand-in for AWS Secrets Manager on loopback that checks every request's SigV4
/// signature with the secret key it knows (and refuses a bad one as AWS does), then the chain.
/// </summary>
public sealed class SecretSourceTests : IAsyncLifetime
{
    private const string AccessKey = "AKIDTEST";
    private const string SecretKey = "test-secret-access-key";
    private readonly Dictionary<string, string> _secrets = new() { ["gateway/Auth/JwtSigningKeys"] = "k1:from-aws" };
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private WebApplication _aws = null!;
    private int _requests;
    private string? _lastRefusal;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _aws = builder.Build();
        _aws.MapPost("/", HandleAsync);
        await _aws.StartAsync();
    }

    public async Task DisposeAsync() => await _aws.DisposeAsync();

    private Uri Endpoint => new(_aws.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var authorization = context.Request.Headers.Authorization.ToString();
        var signedHeaders = authorization.Split("SignedHeaders=")[1].Split(',')[0].Split(';');
        var headers = signedHeaders.Select(h => new KeyValuePair<string, string>(h, h == "host" ? context.Request.Host.Value! : context.Request.Headers[h].ToString())).ToList();
        var date = DateTimeOffset.ParseExact(context.Request.Headers["X-Amz-Date"].ToString(), "yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
        var expected = SigV4.Authorization(new AwsCredentials(AccessKey, SecretKey, null), date, "eu-west-1", "secretsmanager", "POST", "/", "", headers, SigV4.PayloadHash(body));
        if (expected != authorization || !signedHeaders.Contains("x-amz-target") || !signedHeaders.Contains("host")
            || context.Request.Headers["X-Amz-Target"] != "secretsmanager.GetSecretValue")
        {
            _lastRefusal = authorization;
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"__type":"InvalidSignatureException","message":"The request signature we calculated does not match"}""");
            return;
        }

        var id = JsonDocument.Parse(body).RootElement.GetProperty("SecretId").GetString()!;
        if (!_secrets.TryGetValue(id, out var value))
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}""");
            return;
        }

        context.Response.ContentType = "application/x-amz-json-1.1";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new { ARN = "arn:x", Name = id, SecretString = value, VersionId = "v1" }));
    }

    private AwsSecretsManagerSource Source(string secretKey = SecretKey) => new(
        new HttpClient(),
        new AwsSecretsOptions { Region = "eu-west-1", Endpoint = Endpoint.ToString(), CacheSeconds = 300 },
        new AwsCredentials(AccessKey, secretKey, null),
        _time,
        NullLogger<AwsSecretsManagerSource>.Instance);

    [Fact]
    public async Task SignedRequest_IsAccepted_AndTheValueCached()
    {
        var source = Source();
        Assert.Equal("k1:from-aws", await source.GetAsync("Auth:JwtSigningKeys", default));
        Assert.Null(_lastRefusal);
        Assert.Equal("k1:from-aws", await source.GetAsync("Auth:JwtSigningKeys", default));
        Assert.Equal(1, _requests);

        // After the cache time the value is fetched again, and a rotated value is seen.
        _secrets["gateway/Auth/JwtSigningKeys"] = "k2:rotated";
        _time.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal("k2:rotated", await source.GetAsync("Auth:JwtSigningKeys", default));
        Assert.Equal(2, _requests);
    }

    [Fact]
    public async Task MissingSecret_IsNull_SoTheChainGoesOn()
    {
        Assert.Null(await Source().GetAsync("Redis:Password", default));
    }

    [Fact]
    public async Task WrongSecretKey_IsRefusedByTheServer()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await Source("wrong-key").GetAsync("Auth:JwtSigningKeys", default));
        Assert.Contains("InvalidSignatureException", error.Message, StringComparison.Ordinal);
        Assert.NotNull(_lastRefusal);
        Assert.DoesNotContain("wrong-key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailedRefresh_KeepsTheLastValue()
    {
        var source = Source();
        Assert.Equal("k1:from-aws", await source.GetAsync("Auth:JwtSigningKeys", default));
        await _aws.StopAsync();
        _time.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal("k1:from-aws", await source.GetAsync("Auth:JwtSigningKeys", default));
    }

    [Fact]
    public async Task Chain_EnvironmentThenFilesThenAws()
    {
        var directory = Directory.CreateTempSubdirectory().FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "Auth__JwtSigningKeys"), "k1:from-file\n");
            await File.WriteAllTextAsync(Path.Combine(directory, "Redis__Password"), "from-file\r\n");
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Redis:Password"] = "from-env" }).Build();
            var chain = new SecretChain([new ConfigurationSecretSource(configuration), new FileSecretSource(directory), Source()]);
            Assert.Equal("from-env", await chain.GetAsync("Redis:Password"));
            Assert.Equal("k1:from-file", await chain.GetAsync("Auth:JwtSigningKeys"));
            Assert.Equal(0, _requests);
            Assert.Null(await chain.GetAsync("Storage:PostgresPassword"));
            Assert.Equal(1, _requests);
            File.Delete(Path.Combine(directory, "Auth__JwtSigningKeys"));
            Assert.Equal("k1:from-aws", await chain.GetAsync("Auth:JwtSigningKeys"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void SecretIds_FollowThePrefixAndSlashes()
    {
        Assert.Equal("gateway/Storage/PostgresPassword", Source().SecretId("Storage:PostgresPassword"));
        Assert.Equal("https://secretsmanager.eu-west-1.amazonaws.com/", new AwsSecretsOptions { Region = "eu-west-1" }.EndpointUri.ToString());
        Assert.Contains("region name", new AwsSecretsOptions { Region = "EU West" }.Validate(), StringComparison.Ordinal);
    }
}
