using System.Globalization;
using Gateway.Redis;
using StackExchange.Redis;

namespace Gateway.RateLimiting;

/// <summary>
/// A failure counter with backoff: <see cref="Failures"/> failures are free, then each further
/// one locks the key for <see cref="BackoffSeconds"/> × 2^(failures beyond), at most
/// <see cref="MaxBackoffSeconds"/>; the count is forgotten after <see cref="ResetAfterSeconds"/>
/// without a failure.
/// </summary>
internal sealed class FailureRule
{
    public FailureRule()
    {
    }

    public FailureRule(int failures, int backoffSeconds, int maxBackoffSeconds, int resetAfterSeconds)
    {
        Failures = failures;
        BackoffSeconds = backoffSeconds;
        MaxBackoffSeconds = maxBackoffSeconds;
        ResetAfterSeconds = resetAfterSeconds;
    }

    public int Failures { get; set; }

    public int BackoffSeconds { get; set; } = 1;

    public int MaxBackoffSeconds { get; set; } = 900;

    public int ResetAfterSeconds { get; set; } = 3600;

    /// <summary>How long the key is locked after its <paramref name="count"/>-th failure (zero below the threshold).</summary>
    public long LockMilliseconds(long count) =>
        count < Failures ? 0 : Math.Min(MaxBackoffSeconds * 1000L, BackoffSeconds * 1000L << (int)Math.Min(count - Failures, 30));

    public string? Validate(string key) =>
        Failures is < 1 or > 100_000 ? $"{key}:Failures must be between 1 and 100000 (got {Failures})"
        : BackoffSeconds is < 1 or > 86_400 ? $"{key}:BackoffSeconds must be between 1 and 86400 (got {BackoffSeconds})"
        : MaxBackoffSeconds < BackoffSeconds || MaxBackoffSeconds > 86_400 ? $"{key}:MaxBackoffSeconds must be between BackoffSeconds and 86400 (got {MaxBackoffSeconds})"
        : ResetAfterSeconds < MaxBackoffSeconds || ResetAfterSeconds > 30 * 86_400 ? $"{key}:ResetAfterSeconds must be between MaxBackoffSeconds and 2592000 (got {ResetAfterSeconds})"
        : null;
}

/// <summary>One counter of an attempt: its key, its rule, and whether a success forgets it (or only takes back its own charge).</summary>
internal readonly record struct FailureKey(string Key, FailureRule Rule, bool ForgetOnSuccess);

/// <summary>
/// Limits failures, not attempts. An attempt first asks <see cref="TryBeginAsync"/>: refused
/// while any of its counters is locked (nothing is charged), otherwise every counter is charged
/// one failure at once, before the password is checked, so a burst of concurrent guesses cannot
/// slip past the threshold. A success then takes the charge back (<see cref="SucceededAsync"/>):
/// it forgets an account's counter, and takes back just its own failure from an address's (a
/// login to one's own account must not wipe out what the address did to others). With Redis the
/// counters are shared by every replica (one Lua script each, on the server's clock); without
/// it, or while it is down or slow, counters in this process apply.
/// </summary>
internal sealed partial class FailureLimiter(RedisConnection redis, TimeProvider time, ILogger<FailureLimiter> logger)
{
    // KEYS: the counters. ARGV: per key, failures, backoff ms, max ms, reset ms. Returns ms to wait (0: charged).
    private const string BeginScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local wait = 0
        for i = 1, #KEYS do
          local u = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
          if u - now > wait then wait = u - now end
        end
        if wait > 0 then return wait end
        for i = 1, #KEYS do
          local b = (i - 1) * 4
          local failures = tonumber(ARGV[b + 1])
          local backoff = tonumber(ARGV[b + 2])
          local max = tonumber(ARGV[b + 3])
          local reset = tonumber(ARGV[b + 4])
          local s = redis.call('HMGET', KEYS[i], 'n', 'last')
          local n = tonumber(s[1]) or 0
          local last = tonumber(s[2]) or 0
          if now - last > reset then n = 0 end
          n = n + 1
          local u = 0
          if n >= failures then u = now + math.min(max, backoff * 2 ^ math.min(n - failures, 30)) end
          redis.call('HSET', KEYS[i], 'n', n, 'last', now, 'until', u)
          redis.call('PEXPIRE', KEYS[i], reset + max)
        end
        return 0
        """;

    // KEYS: the counters. ARGV: per key, 'forget' or 'refund', and the failures threshold.
    private const string SucceededScript = """
        for i = 1, #KEYS do
          if ARGV[(i - 1) * 2 + 1] == 'forget' then
            redis.call('DEL', KEYS[i])
          elseif redis.call('EXISTS', KEYS[i]) == 1 then
            local n = tonumber(redis.call('HGET', KEYS[i], 'n') or '1') - 1
            if n < 0 then n = 0 end
            redis.call('HSET', KEYS[i], 'n', n)
            if n < tonumber(ARGV[(i - 1) * 2 + 2]) then redis.call('HSET', KEYS[i], 'until', 0) end
          end
        end
        return 0
        """;

    private const int MaxLocalEntries = 100_000;
    private readonly Dictionary<string, Counter> _local = new(StringComparer.Ordinal);
    private int _redisFailures;

    /// <summary>Seconds to wait (nothing charged), or 0: every counter was charged one failure and the attempt may go on.</summary>
    public async ValueTask<int> TryBeginAsync(FailureKey first, FailureKey second)
    {
        if (redis.Multiplexer is { } multiplexer && redis.IsUsable)
        {
            try
            {
                var waitMs = (long)await multiplexer.GetDatabase().ScriptEvaluateAsync(
                    BeginScript,
                    [Key(first), Key(second)],
                    [.. Arguments(first.Rule), .. Arguments(second.Rule)]);
                return Seconds(waitMs);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Fallback(ex);
            }
        }

        return Seconds(BeginLocal(first, second));
    }

    /// <summary>The attempt succeeded: forget or refund each counter as its key says.</summary>
    public async ValueTask SucceededAsync(FailureKey first, FailureKey second)
    {
        if (redis.Multiplexer is { } multiplexer && redis.IsUsable)
        {
            try
            {
                await multiplexer.GetDatabase().ScriptEvaluateAsync(
                    SucceededScript,
                    [Key(first), Key(second)],
                    [Mode(first), first.Rule.Failures, Mode(second), second.Rule.Failures]);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Fallback(ex);
            }
        }

        // Also here: a charge made locally while Redis was away is taken back too.
        SucceededLocal(first, second);
    }

    private RedisKey Key(FailureKey key) => new(redis.Options.KeyPrefix + "lf:" + key.Key);

    private static RedisValue[] Arguments(FailureRule rule) =>
        [rule.Failures, rule.BackoffSeconds * 1000L, rule.MaxBackoffSeconds * 1000L, rule.ResetAfterSeconds * 1000L];

    private static RedisValue Mode(FailureKey key) => key.ForgetOnSuccess ? "forget" : "refund";

    private static int Seconds(long milliseconds) => milliseconds <= 0 ? 0 : (int)Math.Min(int.MaxValue, (milliseconds + 999) / 1000);

    private void Fallback(Exception ex)
    {
        if (ex is TimeoutException)
        {
            redis.ReportUnresponsive();
        }

        if (Interlocked.Increment(ref _redisFailures) % 1000 == 1)
        {
            Log.RedisFailed(logger, ex.Message);
        }
    }

    private long BeginLocal(FailureKey first, FailureKey second)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_local)
        {
            var a = Get(first.Key, now);
            var b = Get(second.Key, now);
            var wait = Math.Max(a.Until - now, b.Until - now);
            if (wait > 0)
            {
                return wait;
            }

            a.Charge(first.Rule, now);
            b.Charge(second.Rule, now);
            return 0;
        }
    }

    private void SucceededLocal(FailureKey first, FailureKey second)
    {
        lock (_local)
        {
            Settle(first);
            Settle(second);
        }
    }

    private void Settle(FailureKey key)
    {
        if (!_local.TryGetValue(key.Key, out var counter))
        {
            return;
        }

        if (key.ForgetOnSuccess)
        {
            _local.Remove(key.Key);
            return;
        }

        counter.Count = Math.Max(0, counter.Count - 1);
        if (counter.Count < key.Rule.Failures)
        {
            counter.Until = 0;
        }
    }

    private Counter Get(string key, long now)
    {
        if (!_local.TryGetValue(key, out var counter))
        {
            if (_local.Count >= MaxLocalEntries)
            {
                Evict(now);
            }

            counter = new Counter();
            _local[key] = counter;
        }

        return counter;
    }

    /// <summary>Bounded memory: counters idle for a day go first, then any that are not locked (never a lock in force).</summary>
    private void Evict(long now)
    {
        foreach (var (key, counter) in _local)
        {
            if (now - counter.Last > 86_400_000 && counter.Until <= now)
            {
                _local.Remove(key);
            }
        }

        if (_local.Count >= MaxLocalEntries)
        {
            foreach (var (key, counter) in _local)
            {
                if (counter.Until <= now)
                {
                    _local.Remove(key);
                }
            }
        }
    }

    private sealed class Counter
    {
        public long Count;
        public long Last;
        public long Until;

        public void Charge(FailureRule rule, long now)
        {
            if (now - Last > rule.ResetAfterSeconds * 1000L)
            {
                Count = 0;
            }

            Count++;
            Last = now;
            var lockFor = rule.LockMilliseconds(Count);
            Until = lockFor > 0 ? now + lockFor : 0;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(801, LogLevel.Warning, "Redis failure counting failed ({Reason}); counters in this process apply meanwhile")]
        public static partial void RedisFailed(ILogger logger, string reason);
    }
}
