using Gateway.Redis;
using Gateway.Storage;
using StackExchange.Redis;

namespace Gateway.Auth;

/// <summary>
/// Keeps this replica's <see cref="RevocationList"/> current and tells the others about its own
/// revocations. A revocation is written to the store first (durable), applied here, then
/// published on Redis so every replica applies it within milliseconds, with no Redis round trip
/// on the request path. The list is reloaded from the store at start-up, every
/// <c>Auth:RevocationResyncSeconds</c>, and whenever Redis comes back.
/// </summary>
internal sealed partial class RevocationService(
    IAuthStore store,
    RevocationList list,
    RedisConnection redis,
    AuthOptions options,
    TimeProvider time,
    ILogger<RevocationService> logger) : BackgroundService, Hosting.IReadinessCheck
{
    private static readonly TimeSpan s_tick = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long Redis may go unanswered, with the subscription still connected, before the feed
    /// counts as lost. While subscribed nothing published is dropped, only delayed, so one slow
    /// PING (an overloaded machine) or a rate-limit command that timed out is not an outage; a
    /// paused Redis is. Losing the feed costs a reload from the store before it is trusted again,
    /// and with PostgreSQL down too, that reload waits for it.
    /// </summary>
    public static readonly TimeSpan UnansweredPatience = TimeSpan.FromSeconds(3);

    private volatile bool _healthy = !redis.Enabled;
    private volatile bool _subscribed;
    private bool _waitingForStore;
    private long _unansweredSince;
    private readonly RedisChannel _channel = RedisChannel.Literal(redis.Options.Channel);

    /// <summary>
    /// True while revocations from other replicas are known to arrive: always without Redis,
    /// otherwise while the subscription is connected and the list was reloaded since it came back.
    /// </summary>
    public bool Healthy => _healthy;

    /// <summary>
    /// Why revocation checks cannot be trusted now, or null. Only when failing closed: then every
    /// authenticated request answers 503, so the load balancer may as well know. Failing open,
    /// the replica serves and stays ready (a shared Redis must not drain every replica at once).
    /// </summary>
    public string? NotReadyReason => _healthy || !options.FailClosed ? null : "the revocation feed (Redis) is unavailable";

    /// <summary>Failing open without the feed: serving, but revocations from other replicas wait for Redis or the next resync.</summary>
    public string? DegradedReason => _healthy || options.FailClosed
        ? null
        : "the revocation feed (Redis) is unavailable; serving with the deny set as it was (Auth:RevocationFailure=open)";

    /// <summary>Loads the deny set before the server takes requests.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await ResyncAsync(cancellationToken);
        await TrySubscribeAsync();

        // Subscribed after the load: nothing can have been missed, so serve at once.
        _healthy = !redis.Enabled || _subscribed;
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var resyncEvery = TimeSpan.FromSeconds(options.RevocationResyncSeconds);
        var nextResync = time.GetUtcNow() + resyncEvery;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(s_tick, time, stoppingToken);
                if (redis.Enabled)
                {
                    await WatchRedisAsync(stoppingToken);
                }

                if (time.GetUtcNow() >= nextResync)
                {
                    nextResync = time.GetUtcNow() + resyncEvery;
                    await ResyncAsync(stoppingToken);
                    await store.PurgeExpiredAsync(time.GetUtcNow().ToUnixTimeMilliseconds(), stoppingToken);
                    await store.ForgetAddressesAsync((time.GetUtcNow() - TimeSpan.FromDays(options.KnownAddressDays)).ToUnixTimeMilliseconds(), stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (StoreUnavailableException)
            {
                // The store's outage is reported by its monitor; the deny set in memory stays as it is.
            }
            catch (Exception ex)
            {
                Log.LoopFailed(logger, ex);
            }
        }
    }

    private async Task WatchRedisAsync(CancellationToken cancellationToken)
    {
        var multiplexer = redis.Multiplexer;
        if (!_subscribed)
        {
            await TrySubscribeAsync();
        }

        // A lost subscription loses the feed at once: pub/sub does not replay what it missed.
        // Connected is not enough: a paused Redis keeps its connections open and answers nothing.
        var subscribed = _subscribed && multiplexer is not null && multiplexer.IsConnected && multiplexer.GetSubscriber().IsConnected(_channel);
        if (!subscribed || !await redis.ProbeAsync())
        {
            if (subscribed && _healthy && !UnansweredTooLong())
            {
                return;
            }

            if (_healthy)
            {
                _healthy = false;
                Log.FeedLost(logger, options.FailClosed ? "refused" : "accepted with the deny set as it was");
            }

            return;
        }

        _unansweredSince = 0;
        if (!_healthy)
        {
            // Anything published while this replica was away is in the store: reload before trusting the list again.
            try
            {
                await ResyncAsync(cancellationToken);
            }
            catch (StoreUnavailableException)
            {
                // Without the store nothing missed can be recovered: the feed stays lost until both are back.
                if (!_waitingForStore)
                {
                    _waitingForStore = true;
                    Log.ResyncWaitsForStore(logger);
                }

                return;
            }

            _waitingForStore = false;
            _healthy = true;
            Log.FeedRestored(logger);
        }
    }

    /// <summary>True once Redis has not answered for <see cref="UnansweredPatience"/> (counted from the first miss).</summary>
    private bool UnansweredTooLong()
    {
        var now = time.GetTimestamp();
        if (_unansweredSince == 0)
        {
            _unansweredSince = now;
        }

        return time.GetElapsedTime(_unansweredSince, now) >= UnansweredPatience;
    }

    private async Task TrySubscribeAsync()
    {
        var multiplexer = redis.Multiplexer;
        if (multiplexer is null || !multiplexer.IsConnected)
        {
            return;
        }

        try
        {
            await multiplexer.GetSubscriber().SubscribeAsync(_channel, (_, message) =>
            {
                if (message.HasValue && !list.Apply(message.ToString()))
                {
                    Log.UnknownMessage(logger);
                }
            });
            _subscribed = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.SubscribeFailed(logger, ex.Message);
        }
    }

    /// <summary>Reloads every live revocation from the store.</summary>
    public async Task ResyncAsync(CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var token in await store.ListRevokedTokensAsync(nowMs, cancellationToken))
        {
            list.RevokeToken(token.Jti, UnixTime.ToSecondsRoundingUp(token.ExpiresAt));
        }

        foreach (var user in await store.ListUserGenerationsAsync(cancellationToken))
        {
            list.RaiseUserGeneration(user.Id, user.TokenGeneration);
        }

        foreach (var key in await store.ListRevokedApiKeyIdsAsync(cancellationToken))
        {
            list.RevokeKey(key);
        }

        list.Purge(nowMs / 1000);
    }

    /// <summary>Revokes one access token everywhere (<paramref name="expiresAt"/> in Unix seconds, its <c>exp</c>).</summary>
    public async Task RevokeTokenAsync(string jti, long expiresAt, CancellationToken cancellationToken)
    {
        await store.AddRevokedTokenAsync(jti, UnixTime.ToMilliseconds(expiresAt), cancellationToken);
        list.RevokeToken(jti, expiresAt);
        await PublishAsync(RevocationList.TokenMessage(jti, expiresAt));
    }

    /// <summary>Spreads a user's new token generation (after the store raised it, ending the user's sessions).</summary>
    public async Task UserGenerationRaisedAsync(long userId, long generation)
    {
        list.RaiseUserGeneration(userId, generation);
        await PublishAsync(RevocationList.UserMessage(userId, generation));
    }

    /// <summary>Revokes an API key everywhere; false when there is no such live key.</summary>
    public async Task<bool> RevokeKeyAsync(long keyId, CancellationToken cancellationToken)
    {
        if (!await store.RevokeApiKeyAsync(keyId, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken))
        {
            return false;
        }

        list.RevokeKey(keyId);
        await PublishAsync(RevocationList.KeyMessage(keyId));
        return true;
    }

    private async Task PublishAsync(string message)
    {
        var multiplexer = redis.Multiplexer;
        if (multiplexer is null)
        {
            return;
        }

        // The revocation is saved and applied here already: whatever happens to the publish, the
        // caller's request succeeded. Other replicas pick it up at their next resync, or when
        // Redis returns (a replica reloads the deny set from the store before trusting it again).
        if (!redis.IsUsable)
        {
            Log.PublishFailed(logger, "Redis is unavailable or not answering");
            return;
        }

        try
        {
            await multiplexer.GetSubscriber().PublishAsync(_channel, message);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            if (ex is TimeoutException)
            {
                redis.ReportUnresponsive();
            }

            Log.PublishFailed(logger, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(520, LogLevel.Error, "Revocation feed lost (Redis unavailable); token and key checks are {Mode} until it returns")]
        public static partial void FeedLost(ILogger logger, string mode);

        [LoggerMessage(521, LogLevel.Information, "Revocation feed restored; deny set reloaded from the store")]
        public static partial void FeedRestored(ILogger logger);

        [LoggerMessage(522, LogLevel.Warning, "Could not subscribe to the revocation channel: {Reason}")]
        public static partial void SubscribeFailed(ILogger logger, string reason);

        [LoggerMessage(523, LogLevel.Warning, "Could not publish a revocation (other replicas will load it from the store): {Reason}")]
        public static partial void PublishFailed(ILogger logger, string reason);

        [LoggerMessage(524, LogLevel.Warning, "Ignored a message on the revocation channel that is not a revocation")]
        public static partial void UnknownMessage(ILogger logger);

        [LoggerMessage(525, LogLevel.Error, "Revocation maintenance failed; retrying")]
        public static partial void LoopFailed(ILogger logger, Exception exception);

        [LoggerMessage(526, LogLevel.Warning, "Redis is back but the identity store is not: the deny set cannot be reloaded, so the revocation feed stays lost until it is")]
        public static partial void ResyncWaitsForStore(ILogger logger);
    }
}
