using System.Collections.Concurrent;
using System.Globalization;
using Gateway.Redis;
using StackExchange.Redis;

namespace Gateway.RateLimiting;

/// <summary>One bucket decision: allowed or not, and what the <c>RateLimit-*</c> headers say.</summary>
internal readonly record struct RateDecision(bool Allowed, int Limit, int Remaining, int RetryAfterSeconds, int ResetSeconds);

/// <summary>
/// Token buckets. With Redis, one Lua script reads, refills and takes from the bucket
/// atomically on the server (its clock, so replicas with skewed clocks agree); without Redis,
/// or while it is down or does not answer, buckets in this process apply. It never throws.
/// </summary>
internal sealed partial class RateLimiter(RedisConnection redis, TimeProvider time, ILogger<RateLimiter> logger)
{
    // KEYS[1]: bucket. ARGV: rate per second, burst. Returns {allowed, tokens left, ms until one token}.
    private const string Script = """
        local rate = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
        local tokens = tonumber(state[1])
        local ts = tonumber(state[2])
        if tokens == nil or ts == nil then
          tokens = burst
          ts = now
        end
        tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
        local allowed = 0
        if tokens >= 1 then
          tokens = tokens - 1
          allowed = 1
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
        redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
        local wait = 0
        if allowed == 0 then
          wait = math.ceil((1 - tokens) * 1000 / rate)
        end
        return {allowed, math.floor(tokens), wait}
        """;

    private readonly ConcurrentDictionary<string, LocalBucket> _local = new(StringComparer.Ordinal);
    private int _redisFailures;

    /// <summary>Takes one token from the bucket <paramref name="key"/> (a caller or login key, never user text unbounded).</summary>
    public ValueTask<RateDecision> AcquireAsync(string key, RateRule rule)
    {
        var multiplexer = redis.Multiplexer;
        if (multiplexer is not null && redis.IsUsable)
        {
            return AcquireRedisAsync(multiplexer, key, rule);
        }

        return new(AcquireLocal(key, rule));
    }

    private async ValueTask<RateDecision> AcquireRedisAsync(ConnectionMultiplexer multiplexer, string key, RateRule rule)
    {
        try
        {
            var result = (RedisResult[]?)await multiplexer.GetDatabase().ScriptEvaluateAsync(
                Script,
                [new RedisKey(redis.Options.KeyPrefix + "rl:" + key)],
                [rule.PerSecond.ToString("R", CultureInfo.InvariantCulture), rule.Burst]);
            if (result is { Length: 3 })
            {
                var allowed = (long)result[0] == 1;
                var remaining = (int)(long)result[1];
                var waitMs = (long)result[2];
                return Decide(allowed, rule, remaining, waitMs);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // A slow Redis ends in RedisTimeoutException, a TimeoutException: stop waiting on it
            // (until a PING answers again) and answer from this process's buckets.
            if (ex is TimeoutException)
            {
                redis.ReportUnresponsive();
            }

            if (Interlocked.Increment(ref _redisFailures) % 1000 == 1)
            {
                Log.RedisFailed(logger, ex.Message);
            }
        }

        return AcquireLocal(key, rule);
    }

    private RateDecision AcquireLocal(string key, RateRule rule)
    {
        if (_local.Count > 100_000)
        {
            // Bounded memory: idle buckets are full buckets, so forgetting them changes nothing but the rare busy one.
            _local.Clear();
        }

        var now = time.GetTimestamp();
        var bucket = _local.GetOrAdd(key, static (_, state) => new LocalBucket(state.Burst, state.Now), (Burst: rule.Burst, Now: now));
        lock (bucket)
        {
            var elapsed = time.GetElapsedTime(bucket.Timestamp, now).TotalSeconds;
            bucket.Tokens = Math.Min(rule.Burst, bucket.Tokens + (Math.Max(0, elapsed) * rule.PerSecond));
            bucket.Timestamp = now;
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return Decide(true, rule, (int)bucket.Tokens, 0);
            }

            return Decide(false, rule, 0, (long)Math.Ceiling((1 - bucket.Tokens) * 1000 / rule.PerSecond));
        }
    }

    private static RateDecision Decide(bool allowed, RateRule rule, int remaining, long waitMs)
    {
        var reset = (int)Math.Min(int.MaxValue, Math.Ceiling((rule.Burst - remaining) / rule.PerSecond));
        var retry = allowed ? 0 : (int)Math.Max(1, Math.Min(int.MaxValue, Math.Ceiling(waitMs / 1000.0)));
        return new RateDecision(allowed, rule.Burst, Math.Max(0, remaining), retry, reset);
    }

    /// <summary>A header value for a count or a number of seconds (the host writes the <c>RateLimit-*</c> headers).</summary>
    public static string HeaderValue(int value) => Small(value);

    // PERF: header values for small numbers are interned so a limited request allocates no strings.
    private static readonly string[] s_numbers = CreateNumbers();

    private static string[] CreateNumbers()
    {
        var numbers = new string[4097];
        for (var i = 0; i < numbers.Length; i++)
        {
            numbers[i] = i.ToString(CultureInfo.InvariantCulture);
        }

        return numbers;
    }

    private static string Small(int value) => (uint)value < (uint)s_numbers.Length ? s_numbers[value] : value.ToString(CultureInfo.InvariantCulture);

    private sealed class LocalBucket(int burst, long timestamp)
    {
        public double Tokens = burst;
        public long Timestamp = timestamp;
    }

    private static partial class Log
    {
        [LoggerMessage(800, LogLevel.Warning, "Redis rate limiting failed ({Reason}); buckets in this process apply meanwhile")]
        public static partial void RedisFailed(ILogger logger, string reason);
    }
}
