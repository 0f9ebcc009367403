namespace Gateway.Secrets;

/// <summary>
/// Settings under <c>Secrets</c>: where secrets are looked for, in order: the environment
/// (and command line), files in <see cref="Directory"/>, then AWS Secrets Manager when a
/// region is set. A secret named <c>Auth:JwtSigningKeys</c> is the variable
/// <c>Auth__JwtSigningKeys</c>, the file <c>Auth__JwtSigningKeys</c>, or the AWS secret
/// <c>{Prefix}Auth/JwtSigningKeys</c>.
/// </summary>
internal sealed class SecretsOptions
{
    public const string SectionName = "Secrets";

    /// <summary>Directory of secret files (Docker and Kubernetes mount them at <c>/run/secrets</c>).</summary>
    public string Directory { get; set; } = "/run/secrets";

    /// <summary>How often secrets that may rotate (JWT signing keys) are read again.</summary>
    public int RefreshSeconds { get; set; } = 60;

    public AwsSecretsOptions Aws { get; set; } = new();

    public string? Validate()
    {
        if (RefreshSeconds is < 1 or > 86_400)
        {
            return $"{SectionName}:RefreshSeconds must be between 1 and 86400 (got {RefreshSeconds})";
        }

        return Aws.Validate();
    }
}

/// <summary>Settings under <c>Secrets:Aws</c>; credentials come from <c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c> and <c>AWS_SESSION_TOKEN</c>.</summary>
internal sealed class AwsSecretsOptions
{
    /// <summary>The region; AWS Secrets Manager is used only when it is set.</summary>
    public string Region { get; set; } = string.Empty;

    /// <summary>Overrides <c>https://secretsmanager.{Region}.amazonaws.com</c> (VPC endpoints, tests).</summary>
    public string Endpoint { get; set; } = string.Empty;

    /// <summary>Prepended to every secret id.</summary>
    public string Prefix { get; set; } = "gateway/";

    /// <summary>How long a fetched value is used before it is fetched again.</summary>
    public int CacheSeconds { get; set; } = 300;

    public bool Enabled => !string.IsNullOrWhiteSpace(Region);

    public Uri EndpointUri => new(string.IsNullOrWhiteSpace(Endpoint) ? $"https://secretsmanager.{Region}.amazonaws.com/" : Endpoint);

    public string? Validate()
    {
        if (!Enabled)
        {
            return null;
        }

        foreach (var c in Region)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-')
            {
                return $"{SecretsOptions.SectionName}:Aws:Region '{Region}' is not a region name such as eu-west-1";
            }
        }

        if (!string.IsNullOrWhiteSpace(Endpoint) && (!Uri.TryCreate(Endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != "https" && uri.Scheme != "http")))
        {
            return $"{SecretsOptions.SectionName}:Aws:Endpoint must be an absolute http(s) URL (got '{Endpoint}')";
        }

        if (CacheSeconds is < 1 or > 86_400)
        {
            return $"{SecretsOptions.SectionName}:Aws:CacheSeconds must be between 1 and 86400 (got {CacheSeconds})";
        }

        return null;
    }
}
