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
/// (an API key may override its own), and failure limits with backoff for logins and password
/// changes, per account and per client address. Buckets and counters live in Redis when it is
/// configured (shared by every replica), otherwise in process.
/// </summary>
internal sealed class RateLimitOptions
{
    public const string SectionName = "RateLimit";

    public bool Enabled { get; set; } = true;

    public RateRule Viewer { get; set; } = new(50, 100);

    public RateRule Worker { get; set; } = new(1000, 2000);

    public RateRule Supervisor { get; set; } = new(1000, 2000);

    public RateRule Admin { get; set; } = new(1000, 2000);

    /// <summary>
    /// Failed logins and password changes per account (from addresses it has not logged in from
    /// before; each known address has its own counter with this rule): 5, then a wait of 1 s
    /// doubling with each further failure up to 15 minutes, forgotten after an hour without one.
    /// </summary>
    public FailureRule LoginPerAccount { get; set; } = new(5, 1, 900, 3600);

    /// <summary>Failed logins and password changes per client address, whatever the account: 30, then the same backoff.</summary>
    public FailureRule LoginPerAddress { get; set; } = new(30, 1, 900, 3600);

    /// <summary>
    /// Lookups of API keys not seen before, per client address (before authentication: made-up
    /// keys must not reach the store on every attempt): 50 at once, then 5 a second.
    /// </summary>
    public RateRule KeyLookupsPerAddress { get; set; } = new(5, 50);

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
        ?? LoginPerAddress.Validate($"{SectionName}:LoginPerAddress")
        ?? KeyLookupsPerAddress.Validate($"{SectionName}:KeyLookupsPerAddress");
}
