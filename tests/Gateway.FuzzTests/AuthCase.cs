using System.Text;
using System.Text.Json.Serialization.Metadata;
using CsCheck;
using Gateway.Auth;
using Microsoft.AspNetCore.Http;

namespace Gateway.FuzzTests;

/// <summary>A mutated JSON body for one of the identity endpoints.</summary>
internal sealed record AuthCase(int Seed, Mutation[] Mutations)
{
    /// <summary>(method, path, body): a valid body for each endpoint that reads one.</summary>
    public static readonly (string Method, string Path, string Body)[] Seeds =
    [
        ("POST", "/v1/auth/login", """{"username":"admin","password":"wrong password"}"""),
        ("POST", "/v1/auth/login", """{"username":"fuzz-user","password":"fuzz user passphrase"}"""),
        ("POST", "/v1/auth/refresh", """{"refresh_token":"rt_0123456789abcdef"}"""),
        ("POST", "/v1/auth/logout", """{"refresh_token":"rt_0123456789abcdef"}"""),
        ("POST", "/v1/users", """{"username":"u1","password":"a long enough passphrase","role":"viewer"}"""),
        ("PATCH", "/v1/users/{user}", """{"role":"viewer","password":"another long passphrase","disabled":false}"""),
        ("POST", "/v1/users/me/password", """{"current_password":"not the password","new_password":"a new long passphrase"}"""),
        ("POST", "/v1/keys", """{"name":"job","role":"worker","rate_limit":{"per_second":10,"burst":20}}"""),
    ];

    private static readonly JNode[] s_trees = Seeds.Select(s => JNode.Parse(s.Body)).ToArray();

    public static readonly Gen<AuthCase> Gen = CsCheck.Gen.Select(CsCheck.Gen.Int[0, Seeds.Length - 1], Mutator.Some,
        static (seed, mutations) => new AuthCase(seed, mutations));

    public (string Method, string Path) Endpoint => (Seeds[Seed].Method, Seeds[Seed].Path);

    public byte[] Build() => Mutator.Apply(s_trees[Seed], Mutations);

    public override string ToString() => $"{Endpoint.Method} {Endpoint.Path}, mutations [{string.Join(", ", Mutations)}]: {Encoding.UTF8.GetString(Build())}";

    /// <summary>
    /// The in-process property of the endpoints' body reader: a value, or a 400/413 with a message,
    /// never an exception (the value then goes to the identity service over the real pipeline).
    /// </summary>
    public static string Check(string path, byte[] body)
    {
        var json = AuthJsonContext.Default;
        return path switch
        {
            "/v1/auth/login" => Read(body, json.LoginRequest),
            "/v1/auth/refresh" => Read(body, json.RefreshRequest),
            "/v1/auth/logout" => Read(body, json.LogoutRequest, optional: true),
            "/v1/users" => Read(body, json.CreateUserRequest),
            "/v1/users/me/password" => Read(body, json.ChangePasswordRequest),
            "/v1/keys" => Read(body, json.CreateKeyRequest),
            _ => Read(body, json.UpdateUserRequest),
        };
    }

    private static string Read<T>(byte[] body, JsonTypeInfo<T> type, bool optional = false)
        where T : class
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = body.Length;
        var (value, status, error) = AuthEndpoints.ReadAsync(context, type, 16 * 1024, optional).GetAwaiter().GetResult();
        if (value is not null)
        {
            return status == 200 && error is null ? "read " + typeof(T).Name : throw new InvalidOperationException($"a value with status {status} and error '{error}'");
        }

        if (error is null)
        {
            return optional && status == 200 ? "empty" : throw new InvalidOperationException($"no value and no error (status {status})");
        }

        return status is 400 or 413 && !string.IsNullOrWhiteSpace(error) ? error : throw new InvalidOperationException($"status {status} with error '{error}'");
    }
}
