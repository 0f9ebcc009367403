using Gateway.Auth;

namespace Gateway.Tests.Auth;

public sealed class PasswordHasherTests
{
    // Work factor 4, bcrypt's minimum: these tests check behaviour, not cost.
    private readonly PasswordHasher _hasher = new(4);

    [Fact]
    public void DummyHash_IsAWellFormedHashAtTheConfiguredCost()
    {
        var dummy = PasswordHasher.DummyHash(12);

        // bcrypt's own parser reads the cost from it: a login for an unknown user pays 2^12
        // rounds, as one for a known user does.
        Assert.Equal(60, dummy.Length);
        Assert.Matches(@"^\$2[ab]\$12\$[./A-Za-z0-9]{53}$", dummy);
        Assert.False(BCrypt.Net.BCrypt.PasswordNeedsRehash(dummy, 12));
        Assert.True(BCrypt.Net.BCrypt.PasswordNeedsRehash(dummy, 13));
    }

    [Fact]
    public void DummyHash_IsRandomEachTime()
    {
        Assert.NotEqual(PasswordHasher.DummyHash(4), PasswordHasher.DummyHash(4));
    }

    [Fact]
    public void DummyHash_VerifiesWithoutErrorAndMatchesNothing()
    {
        var dummy = PasswordHasher.DummyHash(4);
        foreach (var password in new[] { "", "password", "correct horse battery staple", dummy })
        {
            Assert.False(BCrypt.Net.BCrypt.Verify(password, dummy));
        }
    }

    [Fact]
    public async Task Verify_UnknownUser_IsFalse_KnownUser_MatchesOnlyItsPassword()
    {
        var hash = await _hasher.HashAsync("s3cret-passphrase");

        Assert.True(await _hasher.VerifyAsync("s3cret-passphrase", hash));
        Assert.False(await _hasher.VerifyAsync("s3cret-passphrasE", hash));
        Assert.False(await _hasher.VerifyAsync("s3cret-passphrase", null));
    }

    [Fact]
    public async Task Verify_PasswordBcryptWouldTruncate_NeverMatches()
    {
        var first72 = new string('a', PasswordHasher.MaxBytes);
        var hash = BCrypt.Net.BCrypt.HashPassword(first72, 4);

        Assert.True(await _hasher.VerifyAsync(first72, hash));
        Assert.False(await _hasher.VerifyAsync(first72 + "b", hash));
    }
}
