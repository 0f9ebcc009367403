using System.Text;

namespace Gateway.Auth;

/// <summary>
/// BCrypt password hashing. bcrypt reads at most 72 bytes of a password and silently ignores
/// the rest, so two long passwords sharing their first 72 bytes would both match one hash. The
/// gateway refuses, when set and at login, any password over 72 bytes of UTF-8 rather than
/// truncate it, and refuses NUL characters, which some bcrypt implementations stop at.
/// Hashing is CPU-bound and slow by design: it runs on the thread pool, at most one per
/// processor at a time, so a burst of logins cannot starve request threads.
/// </summary>
internal sealed class PasswordHasher : IDisposable
{
    public const int MaxBytes = 72;
    public const int MinLength = 8;

    private readonly int _workFactor;
    // bcrypt's base64 alphabet (not RFC 4648's).
    private const string Alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private readonly SemaphoreSlim _gate = new(Environment.ProcessorCount, Environment.ProcessorCount);
    private readonly string _dummy;

    public PasswordHasher(int workFactor)
    {
        _workFactor = workFactor;
        _dummy = DummyHash(workFactor);
    }

    /// <summary>
    /// A well-formed hash with the given work factor, a random salt and a random digest: a login
    /// for an unknown user verifies against it, which costs exactly what verifying a real hash
    /// costs (bcrypt recomputes the digest from the salt and cost, then compares), and it never
    /// matches. PERF: made without hashing anything, so start-up does not pay one bcrypt run
    /// (about 250 ms at work factor 12 on this kind of machine) before the server is ready.
    /// </summary>
    internal static string DummyHash(int workFactor)
    {
        var salt = BCrypt.Net.BCrypt.GenerateSalt(workFactor); // "$2a$NN$" + 22 characters
        Span<char> digest = stackalloc char[31];
        System.Security.Cryptography.RandomNumberGenerator.GetItems(Alphabet, digest);
        return salt + new string(digest);
    }

    /// <summary>Why a new password is not acceptable, or null.</summary>
    public static string? Check(string? password)
    {
        if (string.IsNullOrEmpty(password))
        {
            return "password is required";
        }

        if (password.Length < MinLength)
        {
            return $"password must have at least {MinLength} characters";
        }

        if (Encoding.UTF8.GetByteCount(password) > MaxBytes)
        {
            return $"password must be at most {MaxBytes} bytes in UTF-8 (bcrypt ignores anything longer)";
        }

        if (password.Contains('\0', StringComparison.Ordinal))
        {
            return "password must not contain NUL characters";
        }

        return null;
    }

    public async Task<string> HashAsync(string password)
    {
        await _gate.WaitAsync();
        try
        {
            return await Task.Run(() => BCrypt.Net.BCrypt.HashPassword(password, _workFactor));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Verifies; with no hash (unknown user) verifies against a dummy so the time is the same.
    /// A password bcrypt would truncate never matches.
    /// </summary>
    public async Task<bool> VerifyAsync(string password, string? hash)
    {
        var usable = hash is not null && Check(password) is null;
        var against = usable ? hash! : _dummy;
        await _gate.WaitAsync();
        try
        {
            var match = await Task.Run(() =>
            {
                try
                {
                    return BCrypt.Net.BCrypt.Verify(password, against);
                }
                catch (BCrypt.Net.SaltParseException)
                {
                    return false;
                }
            });
            return usable && match;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
