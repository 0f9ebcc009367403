using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Secrets;

/// <summary>One place secrets can come from.</summary>
internal interface ISecretSource
{
    /// <summary><c>environment</c>, <c>files</c> or <c>aws</c>: said in logs, never the value.</summary>
    string Name { get; }

    /// <summary>The secret's value, or null when this source does not have it.</summary>
    ValueTask<string?> GetAsync(string name, CancellationToken cancellationToken);
}

/// <summary>
/// Environment variables (<c>Auth__JwtSigningKeys</c>) and everything else the configuration
/// holds (command line, appsettings): the first link of the chain.
/// </summary>
internal sealed class ConfigurationSecretSource(IConfiguration configuration) : ISecretSource
{
    public string Name => "environment";

    public ValueTask<string?> GetAsync(string name, CancellationToken cancellationToken)
    {
        var value = configuration[name];
        return new(string.IsNullOrEmpty(value) ? null : value);
    }
}

/// <summary>Files named after the secret (<c>Auth__JwtSigningKeys</c>) in one directory, such as <c>/run/secrets</c>.</summary>
internal sealed class FileSecretSource(string directory) : ISecretSource
{
    public string Name => "files";

    public async ValueTask<string?> GetAsync(string name, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(directory))
        {
            return null;
        }

        var path = Path.Combine(directory, name.Replace(":", "__", StringComparison.Ordinal));
        if (!File.Exists(path))
        {
            return null;
        }

        var text = await File.ReadAllTextAsync(path, cancellationToken);
        text = text.TrimEnd('\r', '\n');
        return text.Length == 0 ? null : text;
    }
}

/// <summary>
/// AWS Secrets Manager's <c>GetSecretValue</c>, called over HTTPS with a SigV4 signature (the
/// AWS SDK's Secrets Manager package is not used). Values are cached for
/// <c>Secrets:Aws:CacheSeconds</c>; when a refresh fails the last value stays in use.
/// </summary>
internal sealed partial class AwsSecretsManagerSource(
    HttpClient http, AwsSecretsOptions options, AwsCredentials credentials, TimeProvider time, ILogger<AwsSecretsManagerSource> logger) : ISecretSource
{
    private const string Service = "secretsmanager";
    private readonly ConcurrentDictionary<string, (string? Value, DateTimeOffset Fetched)> _cache = new(StringComparer.Ordinal);

    public string Name => "aws";

    /// <summary>The secret id asked for: the prefix, then the name with <c>:</c> as <c>/</c>.</summary>
    public string SecretId(string name) => options.Prefix + name.Replace(':', '/');

    public async ValueTask<string?> GetAsync(string name, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_cache.TryGetValue(name, out var cached) && now - cached.Fetched < TimeSpan.FromSeconds(options.CacheSeconds))
        {
            return cached.Value;
        }

        try
        {
            var value = await FetchAsync(SecretId(name), cancellationToken);
            _cache[name] = (value, now);
            return value;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
        {
            Log.FetchFailed(logger, SecretId(name), ex.Message);
            if (_cache.TryGetValue(name, out cached))
            {
                return cached.Value;
            }

            throw new InvalidOperationException($"AWS Secrets Manager could not be asked for '{SecretId(name)}': {ex.Message}", ex);
        }
    }

    private async Task<string?> FetchAsync(string secretId, CancellationToken cancellationToken)
    {
        var endpoint = options.EndpointUri;
        var body = JsonSerializer.SerializeToUtf8Bytes(new GetSecretValueRequest { SecretId = secretId }, SecretsJsonContext.Default.GetSecretValueRequest);
        var now = time.GetUtcNow();
        var host = endpoint.IsDefaultPort ? endpoint.Host : $"{endpoint.Host}:{endpoint.Port}";
        var headers = new List<KeyValuePair<string, string>>
        {
            new("content-type", "application/x-amz-json-1.1"),
            new("host", host),
            new("x-amz-date", SigV4.AmzDate(now)),
            new("x-amz-target", "secretsmanager.GetSecretValue"),
        };
        if (!string.IsNullOrEmpty(credentials.SessionToken))
        {
            headers.Add(new("x-amz-security-token", credentials.SessionToken));
        }

        var authorization = SigV4.Authorization(
            credentials, now, options.Region, Service, "POST", endpoint.AbsolutePath, string.Empty, headers, SigV4.PayloadHash(body));

        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-amz-json-1.1");
        request.Headers.Host = host;
        request.Headers.TryAddWithoutValidation("X-Amz-Date", SigV4.AmzDate(now));
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "secretsmanager.GetSecretValue");
        if (!string.IsNullOrEmpty(credentials.SessionToken))
        {
            request.Headers.TryAddWithoutValidation("X-Amz-Security-Token", credentials.SessionToken);
        }

        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            var value = JsonSerializer.Deserialize(text, SecretsJsonContext.Default.GetSecretValueResponse);
            return value?.SecretString;
        }

        var error = TryReadError(text);
        if (error?.Type?.EndsWith("ResourceNotFoundException", StringComparison.Ordinal) == true)
        {
            return null;
        }

        throw new InvalidOperationException($"GetSecretValue answered {(int)response.StatusCode}: {error?.Type ?? "?"} {error?.Message ?? Encoding.UTF8.GetString(text.AsSpan(0, Math.Min(text.Length, 200)))}");
    }

    private static AwsError? TryReadError(byte[] text)
    {
        try
        {
            return JsonSerializer.Deserialize(text, SecretsJsonContext.Default.AwsError);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(700, LogLevel.Warning, "AWS Secrets Manager: fetching {SecretId} failed ({Reason}); keeping the cached value if any")]
        public static partial void FetchFailed(ILogger logger, string secretId, string reason);
    }
}

/// <summary>Asks each source in turn; the first that has the secret wins.</summary>
internal sealed class SecretChain(IReadOnlyList<ISecretSource> sources)
{
    public IReadOnlyList<ISecretSource> Sources => sources;

    public async ValueTask<string?> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        foreach (var source in sources)
        {
            var value = await source.GetAsync(name, cancellationToken);
            if (value is not null)
            {
                return value;
            }
        }

        return null;
    }
}

internal sealed class GetSecretValueRequest
{
    [JsonPropertyName("SecretId")]
    public required string SecretId { get; init; }
}

internal sealed class GetSecretValueResponse
{
    [JsonPropertyName("Name")]
    public string? Name { get; set; }

    [JsonPropertyName("SecretString")]
    public string? SecretString { get; set; }

    [JsonPropertyName("VersionId")]
    public string? VersionId { get; set; }
}

internal sealed class AwsError
{
    [JsonPropertyName("__type")]
    public string? Type { get; set; }

    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

[JsonSerializable(typeof(GetSecretValueRequest))]
[JsonSerializable(typeof(GetSecretValueResponse))]
[JsonSerializable(typeof(AwsError))]
internal sealed partial class SecretsJsonContext : JsonSerializerContext;
