namespace Gateway.Storage;

/// <summary>
/// Every time column in the store holds Unix milliseconds (migration 0002). Access tokens' own
/// times (<c>exp</c>, <see cref="Auth.Caller.ExpiresAt"/>, the deny set) are Unix seconds, as
/// JWTs have them; conversions happen where the two meet, through here.
/// </summary>
internal static class UnixTime
{
    /// <summary>
    /// Stored values below this are seconds: written by a replica of the previous version that
    /// still runs during a rolling upgrade (10^11 ms is 1973; 10^11 s the year 5138). They are
    /// read as seconds and rewritten at the next maintenance pass, so no revocation is lost.
    /// </summary>
    public const long SecondsBelow = 100_000_000_000;

    /// <summary>A stored time as milliseconds, reading a value in seconds (see <see cref="SecondsBelow"/>) as such.</summary>
    public static long StoredToMilliseconds(long stored) => stored < SecondsBelow ? stored * 1000 : stored;

    /// <summary>Seconds to milliseconds.</summary>
    public static long ToMilliseconds(long seconds) => seconds * 1000;

    /// <summary>Milliseconds to seconds, rounding up: a revocation may outlive its token by a moment, never the reverse.</summary>
    public static long ToSecondsRoundingUp(long milliseconds) => milliseconds / 1000 + (milliseconds % 1000 > 0 ? 1 : 0);
}
