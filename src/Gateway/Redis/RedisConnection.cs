using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// The one Redis connection (a multiplexer) shared by revocation and rate limiting. It never
/// blocks start-up: when Redis is down the gateway starts, reports not ready, and the
/// multiplexer keeps reconnecting in the background.
/// </summary>
internal sealed partial class RedisConnection(RedisOptions options, ILogger<RedisConnection> logger) : IAsyncDisposable
{
    private ConnectionMultiplexer? _multiplexer;

    public bool Enabled => options.Enabled;

    public RedisOptions Options => options;

    /// <summary>Null until <see cref="ConnectAsync"/> ran, and always when Redis is not configured.</summary>
    public ConnectionMultiplexer? Multiplexer => _multiplexer;

    public bool IsConnected => _multiplexer?.IsConnected == true;

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
    }
}
