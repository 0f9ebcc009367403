using System.Buffers.Text;
using System.Security.Cryptography;

namespace Gateway.Auth;

/// <summary>An HMAC-SHA256 signing key and its id (the JWT header's <c>kid</c>).</summary>
internal sealed class SigningKey(string id, byte[] secret)
{
    public string Id { get; } = id;

    public byte[] Secret { get; } = secret;
}

/// <summary>
/// The keys that sign and verify access tokens. The first key signs; every key verifies. To
/// rotate without logging anyone out: put the new key first and keep the old one after it for
/// one access-token lifetime, then drop it. The ring is swapped atomically when the secret
/// <c>Auth:JwtSigningKeys</c> changes (the secret chain refreshes it).
/// </summary>
internal sealed class SigningKeyRing
{
    /// <summary>HMAC-SHA256 keys shorter than the hash add no strength and invite guessing (RFC 7518 §3.2).</summary>
    public const int MinimumKeyBytes = 32;

    private volatile Snapshot _snapshot;

    public SigningKeyRing(IReadOnlyList<SigningKey> keys)
    {
        _snapshot = new Snapshot(keys, 1);
    }

    /// <summary>Raised after the keys change; validated-token caches clear themselves.</summary>
    public event Action? Changed;

    /// <summary>Changes every time the keys do.</summary>
    public int Version => _snapshot.Version;

    public SigningKey Active => _snapshot.Keys[0];

    public IReadOnlyList<SigningKey> Keys => _snapshot.Keys;

    public bool TryFind(ReadOnlySpan<byte> keyId, out SigningKey key)
    {
        foreach (var candidate in _snapshot.Keys)
        {
            if (candidate.Id.Length == keyId.Length && Matches(candidate.Id, keyId))
            {
                key = candidate;
                return true;
            }
        }

        key = null!;
        return false;
    }

    /// <summary>Replaces the keys when they differ from the current ones.</summary>
    public void Replace(IReadOnlyList<SigningKey> keys)
    {
        var current = _snapshot;
        if (Same(current.Keys, keys))
        {
            return;
        }

        _snapshot = new Snapshot(keys, current.Version + 1);
        Changed?.Invoke();
    }

    /// <summary>A random key for a gateway started without <c>Auth:JwtSigningKeys</c> (tokens do not survive a restart).</summary>
    public static SigningKey Ephemeral() => new("ephemeral-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)), RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// Parses <c>kid:base64url,kid2:base64url</c> (standard base64 is accepted too). The first key
    /// signs. Returns an error naming what is wrong, never the key material.
    /// </summary>
    public static bool TryParse(string text, out List<SigningKey> keys, out string error)
    {
        keys = [];
        error = string.Empty;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == part.Length - 1)
            {
                error = $"key {keys.Count + 1} is not written as id:base64";
                return false;
            }

            var id = part[..colon];
            foreach (var c in id)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_' and not '.')
                {
                    error = $"key id '{id}' may hold only letters, digits, '-', '_' and '.'";
                    return false;
                }
            }

            var material = part[(colon + 1)..];
            byte[] secret;
            try
            {
                secret = material.Contains('+', StringComparison.Ordinal) || material.Contains('/', StringComparison.Ordinal) || material.EndsWith('=')
                    ? Convert.FromBase64String(material)
                    : Base64Url.DecodeFromChars(material);
            }
            catch (FormatException)
            {
                error = $"key '{id}' is not valid base64";
                return false;
            }

            if (secret.Length < MinimumKeyBytes)
            {
                error = $"key '{id}' has {secret.Length} bytes; HS256 keys need at least {MinimumKeyBytes}";
                return false;
            }

            foreach (var existing in keys)
            {
                if (existing.Id == id)
                {
                    error = $"key id '{id}' appears twice";
                    return false;
                }
            }

            keys.Add(new SigningKey(id, secret));
        }

        if (keys.Count == 0)
        {
            error = "no keys given";
            return false;
        }

        return true;
    }

    private static bool Matches(string id, ReadOnlySpan<byte> utf8)
    {
        for (var i = 0; i < id.Length; i++)
        {
            if (id[i] != utf8[i])
            {
                return false;
            }
        }

        return true;
    }

    private static bool Same(IReadOnlyList<SigningKey> a, IReadOnlyList<SigningKey> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (a[i].Id != b[i].Id || !a[i].Secret.AsSpan().SequenceEqual(b[i].Secret))
            {
                return false;
            }
        }

        return true;
    }

    private sealed record Snapshot(IReadOnlyList<SigningKey> Keys, int Version);
}
