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

    // One bucket rule per role, indexed by role: the role table's defaults (Roles.Table), each
    // overridden by RateLimit:<Role> (BindRoles). Not a bound property: the roles are rows, not members.
    private readonly RateRule?[] _byRole = DefaultRoleRules();

    public bool Enabled { get; set; } = true;

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

    /// <summary>The bucket of a role's callers (an API key may have its own instead).</summary>
    public RateRule ForRole(Auth.Role role) => (uint)role < (uint)_byRole.Length && _byRole[(int)role] is { } rule ? rule : _byRole[(int)Auth.Roles.Table[0].Role]!;

    /// <summary>Replaces a role's bucket rule (tests, benchmarks); configuration goes through <see cref="BindRoles"/>.</summary>
    public void SetRole(Auth.Role role, RateRule rule) => _byRole[(int)role] = rule;

    /// <summary>
    /// Applies <c>RateLimit:&lt;Role&gt;:PerSecond</c> and <c>:Burst</c> for every role of the table
    /// onto its defaults, so a setting that names one of the two keeps the other's default.
    /// </summary>
    public void BindRoles(IConfiguration section)
    {
        foreach (var row in Auth.Roles.Table)
        {
            var rule = _byRole[(int)row.Role]!;
            section.GetSection(row.ConfigKey).Bind(rule);
        }
    }

    public string? Validate()
    {
        foreach (var row in Auth.Roles.Table)
        {
            if (_byRole[(int)row.Role]!.Validate($"{SectionName}:{row.ConfigKey}") is { } problem)
            {
                return problem;
            }
        }

        return LoginPerAccount.Validate($"{SectionName}:LoginPerAccount")
            ?? LoginPerAddress.Validate($"{SectionName}:LoginPerAddress")
            ?? KeyLookupsPerAddress.Validate($"{SectionName}:KeyLookupsPerAddress");
    }

    private static RateRule?[] DefaultRoleRules()
    {
        var rules = new RateRule?[Auth.Roles.Table.Length + 1];
        foreach (var row in Auth.Roles.Table)
        {
            if ((int)row.Role >= rules.Length)
            {
                Array.Resize(ref rules, (int)row.Role + 1);
            }

            rules[(int)row.Role] = new RateRule(row.PerSecond, row.Burst);
        }

        return rules;
    }
}
