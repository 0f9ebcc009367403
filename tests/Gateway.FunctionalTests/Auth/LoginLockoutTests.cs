using System.Net;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// Password guessing (issue 11): failures are limited, not attempts, per account and per client
/// address, with backoff; a flood of wrong passwords cannot lock the owner out of a known address
/// (one that logged in successfully before); changing one's password has the same per-account
/// failure limit as logging in. Clients on 127.0.0.2 and up are other addresses to the gateway.
/// </summary>
public sealed class LoginLockoutTests : IDisposable
{
    private readonly string _repository = ReferenceModels.CreateRepository("identity");

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    [Fact]
    public async Task WrongPasswordFlood_DoesNotLockTheOwnerOut_OfAKnownAddress()
    {
        // The admin logged in from 127.0.0.1 when the server started: a known address for it.
        await using var server = await GatewayServer.StartAsync(_repository);
        using var attacker = AuthApi.ClientFrom(server, "127.0.0.2");
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 25; i++)
        {
            using var guess = await AuthApi.LoginFromAsync(attacker, "admin", "guess-" + i);
            statuses.Add(guess.StatusCode);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests));

        // The right password from a new address waits too: the account is in backoff...
        using (var stranger = AuthApi.ClientFrom(server, "127.0.0.3"))
        using (var refused = await AuthApi.LoginFromAsync(stranger, "admin", GatewayServer.AdminPassword))
        {
            Assert.Contains("too many failed", await AuthApi.ErrorAsync(refused, HttpStatusCode.TooManyRequests));
            Assert.True(refused.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 });
        }

        // ...but from the address it logged in from before, the owner gets in.
        using var owner = AuthApi.ClientFrom(server, "127.0.0.1");
        using var login = await AuthApi.LoginFromAsync(owner, "admin", GatewayServer.AdminPassword);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
    }

    [Fact]
    public async Task SuccessfulLogins_AreNotLimited_OnlyFailures()
    {
        await using var server = await GatewayServer.StartAsync(_repository);
        using var client = AuthApi.ClientFrom(server, "127.0.0.4");
        for (var i = 0; i < 40; i++)
        {
            using var login = await AuthApi.LoginFromAsync(client, "admin", GatewayServer.AdminPassword);
            Assert.True(login.StatusCode == HttpStatusCode.OK, $"login {i + 1}: {(int)login.StatusCode}");
        }
    }

    [Fact]
    public async Task FailuresFromOneAddress_AreLimited_AcrossAccounts()
    {
        await using var server = await GatewayServer.StartAsync(_repository);
        using var sprayer = AuthApi.ClientFrom(server, "127.0.0.5");
        var refusedAfter = 0;
        for (var i = 1; i <= 60 && refusedAfter == 0; i++)
        {
            // A different account each time: only the per-address failure limit applies.
            using var response = await AuthApi.LoginFromAsync(sprayer, $"nobody-{i}", "wrong-password");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refusedAfter = i - 1;
            }
            else
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
        }

        Assert.Equal(30, refusedAfter);

        // Another address is not affected.
        using var other = AuthApi.ClientFrom(server, "127.0.0.6");
        using var login = await AuthApi.LoginFromAsync(other, "admin", GatewayServer.AdminPassword);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
    }

    [Fact]
    public async Task ChangePassword_HasThePerAccountFailureLimit()
    {
        await using var server = await GatewayServer.StartAsync(_repository);
        var (_, access, _) = await AuthApi.UserAsync(server, "victim", "viewer");

        // A stolen access token, used from elsewhere, guessing the current password.
        using var thief = AuthApi.ClientFrom(server, "127.0.0.7", access);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            using var guess = await thief.PostAsync(
                "/v1/users/me/password", AuthApi.Json(new { current_password = "guess-" + i, new_password = "stolen-passphrase" }));
            statuses.Add(guess.StatusCode);
        }

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Forbidden, 5), statuses.Take(5));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[5]);

        // The same account limit holds for logins from unknown addresses, not from the owner's.
        using (var stranger = AuthApi.ClientFrom(server, "127.0.0.8"))
        using (var refused = await AuthApi.LoginFromAsync(stranger, "victim", "user-passphrase-1"))
        {
            await AuthApi.ErrorAsync(refused, HttpStatusCode.TooManyRequests);
        }

        using var owner = AuthApi.ClientFrom(server, "127.0.0.1");
        using var login = await AuthApi.LoginFromAsync(owner, "victim", "user-passphrase-1");
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
    }
}
