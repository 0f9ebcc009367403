namespace Gateway.Storage;

/// <summary>
/// Thrown by the store when the database cannot be reached (connection refused or cut, a timeout,
/// the server shutting down, SQLite busy or unable to write). The HTTP layer answers 503 with
/// <c>Retry-After</c>; the message is safe to show to a client and names the store, never the
/// server's address or the provider's error (those go to <c>/health/details</c> and the log).
/// </summary>
internal sealed class StoreUnavailableException(string kind, Exception? inner = null)
    : Exception($"the identity store ({kind}) is unavailable; try again shortly", inner)
{
    /// <summary><c>postgres</c> or <c>sqlite</c>.</summary>
    public string Kind { get; } = kind;
}

/// <summary>
/// The identity store's availability as this replica sees it. A call that fails because the
/// database is unreachable marks it unavailable at once and wakes <see cref="StoreHealthMonitor"/>,
/// which probes it (a cheap <c>SELECT 1</c> with a short timeout) and alone marks it available
/// again. While unavailable, calls fail at once instead of each waiting for a connection timeout.
/// </summary>
internal sealed class StoreHealth(string kind, TimeProvider time)
{
    private volatile Outage? _outage;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary><c>postgres</c> or <c>sqlite</c>.</summary>
    public string Kind { get; } = kind;

    public bool IsAvailable => _outage is null;

    /// <summary>Why the store is unavailable and since when, for <c>/health/details</c>; null while available.</summary>
    public string? Problem => _outage is { } outage
        ? $"identity store ({Kind}) unavailable since {outage.Since:yyyy-MM-dd'T'HH:mm:ss'Z'}: {outage.Reason}"
        : null;

    /// <summary>Completes when a failure is reported (the monitor probes at once rather than at its next round).</summary>
    public Task Woken => Volatile.Read(ref _wake).Task;

    public void ThrowIfUnavailable()
    {
        if (_outage is not null)
        {
            throw new StoreUnavailableException(Kind);
        }
    }

    /// <summary>Marks the store unavailable (keeping the time the outage began) and wakes the monitor.</summary>
    public void ReportFailure(string reason)
    {
        var current = _outage;
        _outage = new Outage(reason, current?.Since ?? time.GetUtcNow());
        Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Marks the store available; true when it was not.</summary>
    public bool ReportSuccess()
    {
        var was = _outage;
        _outage = null;
        return was is not null;
    }

    private sealed record Outage(string Reason, DateTimeOffset Since);
}

/// <summary>Words for a store failure, for the log and <c>/health/details</c>.</summary>
internal static class StoreErrors
{
    public static string Describe(Exception exception) =>
        exception is StoreUnavailableException { InnerException: { } inner } ? inner.Message : exception.Message;
}
