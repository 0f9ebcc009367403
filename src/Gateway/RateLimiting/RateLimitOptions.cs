namespace Gateway.RateLimiting;

/// <summary>A token bucket: refills at <see cref="PerSecond"/>, holds at most <see cref="Burst"/>.</summary>
internal sealed class RateRule
{
    public double PerSecond { get; set; }

    public int Burst { get; set; }

    public RateRule()
    {
    }

    public RateRule(double perSecond, int burst)
    {
        PerSecond = perSecond;
        Burst = burst;
    }

    public string? Validate(string key) =>
        PerSecond is <= 0 or > 1_000_000 || !double.IsFinite(PerSecond) ? $"{key}:PerSecond must be above 0 and at most 1000000 (got {PerSecond})"
        : Burst is < 1 or > 10_000_000 ? $"{key}:Burst must be between 1 and 10000000 (got {Burst})"
        : null;
}

/// <summary>
/// Settings under <c>RateLimit</c>: a bucket per user and per API key with defaults per role
/// (an API key may override its own), and login buckets per account and per client address.
/// Buckets live in Redis when it is configured (shared by every replica), otherwise in process.
/// </summary>
internal sealed class RateLimitOptions
{
    public const string SectionName = "RateLimit";

    public bool Enabled { get; set; } = true;

    public RateRule Viewer { get; set; } = new(50, 100);

    public RateRule Worker { get; set; } = new(1000, 2000);

    public RateRule Supervisor { get; set; } = new(1000, 2000);

    public RateRule Admin { get; set; } = new(1000, 2000);

    /// <summary>Login attempts per account: 10 at once, then one every 6 seconds.</summary>
    public RateRule LoginPerAccount { get; set; } = new(1.0 / 6, 10);

    /// <summary>Login attempts per client address: 30 at once, then one a second.</summary>
    public RateRule LoginPerAddress { get; set; } = new(1, 30);

    public RateRule ForRole(Auth.Role role) => role switch
    {
        Auth.Role.Admin => Admin,
        Auth.Role.Supervisor => Supervisor,
        Auth.Role.Worker => Worker,
        _ => Viewer,
    };

    public string? Validate() =>
        Viewer.Validate($"{SectionName}:Viewer")
        ?? Worker.Validate($"{SectionName}:Worker")
        ?? Supervisor.Validate($"{SectionName}:Supervisor")
        ?? Admin.Validate($"{SectionName}:Admin")
        ?? LoginPerAccount.Validate($"{SectionName}:LoginPerAccount")
        ?? LoginPerAddress.Validate($"{SectionName}:LoginPerAddress");
}
