namespace Gateway.Redis;

/// <summary>
/// Settings under <c>Redis</c>. Without <c>Redis:Configuration</c> the gateway runs as a single
/// node: revocations stay in process (other replicas see them at the next resync from the store)
/// and rate limits are local. The password may come as the secret <c>Redis:Password</c>.
/// </summary>
internal sealed class RedisOptions
{
    public const string SectionName = "Redis";

    /// <summary>A StackExchange.Redis configuration string, such as <c>127.0.0.1:6379</c>.</summary>
    public string Configuration { get; set; } = string.Empty;

    /// <summary>The pub/sub channel revocations travel on.</summary>
    public string Channel { get; set; } = "gateway:revocations";

    /// <summary>Prefix of every key the gateway writes (rate-limit buckets).</summary>
    public string KeyPrefix { get; set; } = "gateway:";

    public bool Enabled => !string.IsNullOrWhiteSpace(Configuration);

    public string? Validate()
    {
        if (Enabled)
        {
            try
            {
                StackExchange.Redis.ConfigurationOptions.Parse(Configuration);
            }
            catch (ArgumentException ex)
            {
                return $"{SectionName}:Configuration is not a valid Redis configuration string: {ex.Message}";
            }
        }

        if (string.IsNullOrWhiteSpace(Channel))
        {
            return $"{SectionName}:Channel must not be empty";
        }

        return null;
    }
}
