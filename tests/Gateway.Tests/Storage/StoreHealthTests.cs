using System.Data.Common;
using Gateway.Hosting;
using Gateway.Storage;
using Gateway.Telemetry;
using Gateway.Testing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Gateway.Tests.Storage;

/// <summary>How the store and its monitor tell an outage from a bug, and what they report.</summary>
public sealed class StoreHealthTests
{
    [Fact]
    public async Task UnreachablePostgres_CallsThrowStoreUnavailable_ThenFailFast()
    {
        // Nothing listens on a fresh free port: every connection is refused, as with a stopped server.
        var connection = $"Host=127.0.0.1;Port={FreePort.Next()};Username=gateway;Password=x;Database=postgres;Timeout=2";
        await using var store = new PostgresAuthStore(connection, null, TimeProvider.System);
        var failure = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.FindUserAsync(1, default));
        Assert.Equal("the identity store (postgres) is unavailable; try again shortly", failure.Message);
        Assert.IsAssignableFrom<NpgsqlException>(failure.InnerException);
        Assert.False(store.Health.IsAvailable);
        Assert.Contains("identity store (postgres) unavailable since", store.Health.Problem);

        // Known down: the next call does not try the network at all.
        var fast = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.ListUsersAsync(default));
        Assert.Null(fast.InnerException);

        // The probe still tries, and still fails.
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.PingAsync(default));
    }

    [Theory]
    [InlineData("57P01", true)] // admin shutdown
    [InlineData("57P03", true)] // cannot connect now (starting up)
    [InlineData("08006", true)] // connection failure
    [InlineData("53300", true)] // too many connections
    [InlineData("23505", false)] // unique violation: a bug or a race, not an outage
    [InlineData("42P01", false)] // undefined table
    public void PostgresErrors_AreOutagesOnlyWhenTheServerCannotWork(string sqlState, bool outage) =>
        Assert.Equal(outage, PostgresAuthStore.IsUnreachable(new PostgresException("message", "ERROR", "ERROR", sqlState)));

    [Fact]
    public void NpgsqlConnectionErrors_AreOutages_OtherExceptionsAreNot()
    {
        Assert.True(PostgresAuthStore.IsUnreachable(new NpgsqlException("Failed to connect")));
        Assert.True(PostgresAuthStore.IsUnreachable(new TimeoutException()));
        Assert.False(PostgresAuthStore.IsUnreachable(new InvalidOperationException()));
        Assert.False(PostgresAuthStore.IsUnreachable(new FormatException()));
    }

    [Fact]
    public async Task Probe_ThatNeverAnswers_MarksTheStoreUnavailable_AfterTheTimeout()
    {
        var time = new FakeTimeProvider();
        await using var store = new HangingStore(time);
        var monitor = new StoreHealthMonitor(store, new StorageOptions { HealthCheckTimeoutMilliseconds = 2000 }, time, NullLogger<StoreHealthMonitor>.Instance);
        var probe = monitor.ProbeAsync(default);
        Assert.False(probe.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(probe.IsCompleted);
        Assert.True(store.Health.IsAvailable);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await probe;
        Assert.False(store.Health.IsAvailable);
        Assert.Contains("no answer to a health check within 2000 ms", monitor.DegradedReason);
        Assert.Null(monitor.NotReadyReason);

        store.Answers = true;
        await monitor.ProbeAsync(default);
        Assert.True(store.Health.IsAvailable);
        Assert.Null(monitor.DegradedReason);
    }

    [Fact]
    public async Task DependenciesCheck_DegradedStaysReady_NotReadyIsUnhealthy()
    {
        var degraded = new FixedCheck(null, "identity store (postgres) unavailable");
        var result = await new DependenciesHealthCheck([new FixedCheck(null, null), degraded]).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Equal("identity store (postgres) unavailable", result.Description);
        Assert.Equal("degraded: identity store (postgres) unavailable", result.Data[nameof(FixedCheck)]);

        var down = await new DependenciesHealthCheck([degraded, new FixedCheck("the revocation feed (Redis) is unavailable", null)]).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, down.Status);
        Assert.Equal("the revocation feed (Redis) is unavailable", down.Description);
    }

    private sealed class FixedCheck(string? notReady, string? degraded) : IReadinessCheck
    {
        public string? NotReadyReason => notReady;

        public string? DegradedReason => degraded;
    }

    /// <summary>A store whose connections never open (a database that accepts and then says nothing), until told to answer.</summary>
    private sealed class HangingStore(TimeProvider time) : SqlAuthStore("fake", time)
    {
        public volatile bool Answers;

        public override string Kind => "fake";

        protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
        {
            if (Answers)
            {
                var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=:memory:");
                await connection.OpenAsync(cancellationToken);
                return connection;
            }

            // Ignores cancellation, as a stuck provider call might: only the monitor's WaitAsync bounds it.
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
            throw new InvalidOperationException("unreachable");
        }

        protected override bool IsOutage(Exception exception) => true;

        public override Task MigrateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
