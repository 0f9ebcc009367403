using System.Collections.Concurrent;
using System.Globalization;

namespace Gateway.Auth;

/// <summary>
/// The in-memory deny set every replica checks on every request: revoked access-token ids,
/// each user's least valid token generation, and revoked API keys. It is loaded from the store
/// at start-up, fed by Redis pub/sub, and reloaded from the store periodically and after Redis
/// comes back (pub/sub drops what is sent while a subscriber is away).
/// </summary>
internal sealed class RevocationList
{
    private readonly ConcurrentDictionary<string, long> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, long> _userGenerations = new();
    private readonly ConcurrentDictionary<long, byte> _keys = new();

    /// <summary>Revoked token ids held now (for tests and the health view).</summary>
    public int TokenCount => _tokens.Count;

    /// <summary>True when the caller's credential has been revoked. Allocates nothing.</summary>
    public bool IsRevoked(Caller caller)
    {
        switch (caller.Kind)
        {
            case CallerKind.User:
                if (caller.Jti is not null && _tokens.ContainsKey(caller.Jti))
                {
                    return true;
                }

                return _userGenerations.TryGetValue(caller.Id, out var least) && caller.Generation < least;
            case CallerKind.ApiKey:
                return _keys.ContainsKey(caller.Id);
            default:
                return false;
        }
    }

    public void RevokeToken(string jti, long expiresAt) => _tokens[jti] = expiresAt;

    /// <summary>Tokens of the user issued under a generation below <paramref name="generation"/> are revoked.</summary>
    public void RaiseUserGeneration(long userId, long generation) =>
        _userGenerations.AddOrUpdate(userId, static (_, raised) => raised, static (_, old, raised) => Math.Max(old, raised), generation);

    public void RevokeKey(long keyId) => _keys[keyId] = 0;

    /// <summary>Forgets revoked tokens that have expired anyway (Unix seconds).</summary>
    public void Purge(long now)
    {
        foreach (var entry in _tokens)
        {
            if (entry.Value <= now)
            {
                _tokens.TryRemove(entry);
            }
        }
    }

    /// <summary>The pub/sub message for a revoked token.</summary>
    public static string TokenMessage(string jti, long expiresAt) => "t|" + expiresAt.ToString(CultureInfo.InvariantCulture) + "|" + jti;

    public static string UserMessage(long userId, long generation) =>
        "u|" + userId.ToString(CultureInfo.InvariantCulture) + "|" + generation.ToString(CultureInfo.InvariantCulture);

    public static string KeyMessage(long keyId) => "k|" + keyId.ToString(CultureInfo.InvariantCulture);

    /// <summary>Applies a pub/sub message; false when it is not one of ours.</summary>
    public bool Apply(string message)
    {
        var parts = message.Split('|', 3);
        switch (parts)
        {
            case ["t", var exp, var jti] when long.TryParse(exp, NumberStyles.Integer, CultureInfo.InvariantCulture, out var expiresAt) && jti.Length > 0:
                RevokeToken(jti, expiresAt);
                return true;
            case ["u", var id, var gen] when long.TryParse(id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var userId)
                && long.TryParse(gen, NumberStyles.Integer, CultureInfo.InvariantCulture, out var generation):
                RaiseUserGeneration(userId, generation);
                return true;
            case ["k", var id] when long.TryParse(id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var keyId):
                RevokeKey(keyId);
                return true;
            default:
                return false;
        }
    }
}
