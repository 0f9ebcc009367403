using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// The one Redis connection (a multiplexer) shared by revocation and rate limiting. It never
/// blocks start-up: when Redis is down the gateway starts, reports not ready, and the
/// multiplexer keeps reconnecting in the background.
/// </summary>
/// <remarks>
/// A connected Redis may still not answer (paused, swapping, overloaded): its commands then end
/// in <see cref="RedisTimeoutException"/>, which is a <see cref="TimeoutException"/>, not a
/// <see cref="RedisException"/>. <see cref="ProbeAsync"/> (a PING with a short timeout, run by
/// the revocation service every second) and <see cref="ReportUnresponsive"/> (a command timed
/// out) mark it unusable, so callers stop waiting on it until a PING answers again.
/// </remarks>
internal sealed partial class RedisConnection(RedisOptions options, ILogger<RedisConnection> logger, TimeProvider? time = null) : IAsyncDisposable
{
    /// <summary>How long a PING may take before Redis counts as not answering.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How often <see cref="ProbeAsync"/> sends a PING (between, it answers from the last one).</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private ConnectionMultiplexer? _multiplexer;
    private volatile bool _responsive = true;
    private long _lastProbe;

    public bool Enabled => options.Enabled;

    public RedisOptions Options => options;

    /// <summary>Null until <see cref="ConnectAsync"/> ran, and always when Redis is not configured.</summary>
    public ConnectionMultiplexer? Multiplexer => _multiplexer;

    public bool IsConnected => _multiplexer?.IsConnected == true;

    /// <summary>Connected, and the last PING or command did not time out: worth sending a command to.</summary>
    public bool IsUsable => _responsive && _multiplexer?.IsConnected == true;

    /// <summary>A command timed out: treat Redis as not answering until the next PING does.</summary>
    public void ReportUnresponsive()
    {
        if (_responsive)
        {
            _responsive = false;
            Log.Unresponsive(logger);
        }
    }

    /// <summary>
    /// True when Redis is connected and answers a PING within <see cref="ProbeTimeout"/>. Sends at
    /// most one PING per <see cref="ProbeInterval"/>; between, answers from the last one.
    /// </summary>
    public async ValueTask<bool> ProbeAsync()
    {
        var multiplexer = _multiplexer;
        if (multiplexer is null || !multiplexer.IsConnected)
        {
            return false;
        }

        var now = _time.GetTimestamp();
        if (_lastProbe != 0 && _time.GetElapsedTime(_lastProbe, now) < ProbeInterval)
        {
            return _responsive;
        }

        _lastProbe = now;
        try
        {
            await multiplexer.GetDatabase().PingAsync().WaitAsync(ProbeTimeout, _time);
            if (!_responsive)
            {
                _responsive = true;
                Log.Responsive(logger);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            ReportUnresponsive();
        }

        return _responsive;
    }

    public async Task ConnectAsync(string? password)
    {
        if (!options.Enabled || _multiplexer is not null)
        {
            return;
        }

        var configuration = ConfigurationOptions.Parse(options.Configuration);
        if (!string.IsNullOrEmpty(password))
        {
            configuration.Password = password;
        }

        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = 2000;
        configuration.SyncTimeout = 2000;
        configuration.AsyncTimeout = 2000;
        configuration.ConnectRetry = 1;
        configuration.ReconnectRetryPolicy = new LinearRetry(500);
        configuration.ClientName = "inference-gateway";
        _multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
        _multiplexer.ConnectionFailed += (_, e) => Log.ConnectionFailed(logger, e.EndPoint?.ToString() ?? "?", e.ConnectionType.ToString(), e.FailureType.ToString());
        _multiplexer.ConnectionRestored += (_, e) => Log.ConnectionRestored(logger, e.EndPoint?.ToString() ?? "?", e.ConnectionType.ToString());
        if (!_multiplexer.IsConnected)
        {
            Log.NotConnected(logger);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is not null)
        {
            await _multiplexer.CloseAsync();
            _multiplexer.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(600, LogLevel.Warning, "Redis connection to {Endpoint} ({Kind}) failed: {Failure}")]
        public static partial void ConnectionFailed(ILogger logger, string endpoint, string kind, string failure);

        [LoggerMessage(601, LogLevel.Information, "Redis connection to {Endpoint} ({Kind}) restored")]
        public static partial void ConnectionRestored(ILogger logger, string endpoint, string kind);

        [LoggerMessage(602, LogLevel.Warning, "Redis is not reachable at start-up; the gateway reports not ready until it is")]
        public static partial void NotConnected(ILogger logger);

        [LoggerMessage(603, LogLevel.Warning, "Redis is connected but does not answer in time; it is not used until a PING answers again")]
        public static partial void Unresponsive(ILogger logger);

        [LoggerMessage(604, LogLevel.Information, "Redis answers again")]
        public static partial void Responsive(ILogger logger);
    }
}
