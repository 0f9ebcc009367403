namespace Gateway.Storage;

/// <summary>
/// Settings under <c>Storage</c>. Without <c>Storage:Postgres</c> the embedded SQLite file is
/// used. The PostgreSQL password may be left out of the connection string and given as the
/// secret <c>Storage:PostgresPassword</c> (environment, file or AWS Secrets Manager).
/// </summary>
internal sealed class StorageOptions
{
    public const string SectionName = "Storage";

    /// <summary><c>sqlite</c>, <c>postgres</c>, or empty: postgres when a connection string is set.</summary>
    public string Provider { get; set; } = string.Empty;

    /// <summary>The SQLite database file (created with its directory).</summary>
    public string SqlitePath { get; set; } = "data/gateway.db";

    /// <summary>An Npgsql connection string, such as <c>Host=db;Database=gateway;Username=gateway</c>.</summary>
    public string Postgres { get; set; } = string.Empty;

    /// <summary>How often the store is probed while it is available (every second while it is not).</summary>
    public int HealthCheckSeconds { get; set; } = 5;

    /// <summary>How long a probe may take before the store counts as unavailable.</summary>
    public int HealthCheckTimeoutMilliseconds { get; set; } = 2000;

    public bool UsePostgres => Provider.Length == 0 ? Postgres.Length > 0 : string.Equals(Provider, "postgres", StringComparison.OrdinalIgnoreCase);

    public string? Validate()
    {
        if (Provider.Length > 0
            && !string.Equals(Provider, "postgres", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(Provider, "sqlite", StringComparison.OrdinalIgnoreCase))
        {
            return $"{SectionName}:Provider must be 'postgres' or 'sqlite' (got '{Provider}')";
        }

        if (UsePostgres && string.IsNullOrWhiteSpace(Postgres))
        {
            return $"{SectionName}:Postgres must hold a connection string when {SectionName}:Provider is postgres";
        }

        if (!UsePostgres && string.IsNullOrWhiteSpace(SqlitePath))
        {
            return $"{SectionName}:SqlitePath must not be empty";
        }

        if (HealthCheckSeconds is < 1 or > 300)
        {
            return $"{SectionName}:HealthCheckSeconds must be between 1 and 300 (got {HealthCheckSeconds})";
        }

        if (HealthCheckTimeoutMilliseconds is < 100 or > 30_000)
        {
            return $"{SectionName}:HealthCheckTimeoutMilliseconds must be between 100 and 30000 (got {HealthCheckTimeoutMilliseconds})";
        }

        return null;
    }
}
