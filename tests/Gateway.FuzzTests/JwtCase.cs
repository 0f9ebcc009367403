using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using CsCheck;
using Gateway.Auth;

namespace Gateway.FuzzTests;

/// <summary>
/// A mutated access token: the header's JSON, the payload's JSON, or the compact text itself,
/// signed again with the ring's key after mutation when <see cref="Sign"/> is set, so mutated
/// payloads get past the signature check and reach the payload reader.
/// </summary>
internal sealed record JwtCase(int Part, Mutation[] Mutations, bool Sign)
{
    public const long Now = 1_800_000_000;
    public static readonly SigningKey Key = new("k1", Encoding.ASCII.GetBytes("fuzzing-key-of-thirty-two-bytes!"));
    public static readonly JwtCodec Codec = new(new SigningKeyRing([Key]), "gateway", "gateway", 30);

    public const string Header = """{"alg":"HS256","typ":"JWT","kid":"k1"}""";
    public const string Payload = """{"iss":"gateway","aud":["gateway","other"],"sub":"42","name":"alice","role":"worker","jti":"j-1","sid":"s-1","sv":1,"iat":1800000000,"nbf":1800000000,"exp":1800000900}""";

    private static readonly JNode s_header = JNode.Parse(Header);
    private static readonly JNode s_payload = JNode.Parse(Payload);

    public static readonly Gen<JwtCase> Gen = CsCheck.Gen.Select(CsCheck.Gen.Int[0, 3], Mutator.Some, CsCheck.Gen.Bool,
        static (part, mutations, sign) => new JwtCase(part, mutations, sign));

    public string Build()
    {
        var header = Part is 0 or 2 ? Mutator.Apply(s_header, Mutations) : Encoding.UTF8.GetBytes(Header);
        var payload = Part is 1 or 2 ? Mutator.Apply(s_payload, Mutations) : Encoding.UTF8.GetBytes(Payload);
        var input = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(payload);
        var token = input + "." + (Sign || Part == 3
            ? Base64Url.EncodeToString(HMACSHA256.HashData(Key.Secret, Encoding.ASCII.GetBytes(input)))
            : Base64Url.EncodeToString(new byte[32]));
        if (Part == 3)
        {
            // The compact text itself: only the byte-level mutations apply.
            var bytes = Encoding.UTF8.GetBytes(token);
            foreach (var m in Mutations)
            {
                bytes = Mutator.Apply(new JRaw(Encoding.UTF8.GetString(bytes)), [m with { Op = Mutator.TreeOps + (m.Op % Mutator.ByteOps) }]);
            }

            token = Encoding.UTF8.GetString(bytes);
        }

        return token;
    }

    public override string ToString() => $"part {Part}, signed {Sign}, mutations [{string.Join(", ", Mutations)}]: {Build()}";

    /// <summary>
    /// The property: Validate returns one of its statuses and never throws; a Valid token has
    /// every claim the authenticator relies on.
    /// </summary>
    public static string Check(string token)
    {
        var status = Codec.Validate(token, Now, out var claims);
        if (!Enum.IsDefined(status))
        {
            throw new InvalidOperationException($"undefined status {(int)status}");
        }

        if (status == TokenStatus.Valid && (string.IsNullOrEmpty(claims.Jti) || string.IsNullOrEmpty(claims.SessionId) || claims.Username is null || claims.Role == Role.None))
        {
            throw new InvalidOperationException($"a Valid token with incomplete claims: {claims}");
        }

        return status.ToString();
    }
}
