namespace Gateway.Auth;

/// <summary>Identity's services (src/Identity) and the HTTP side of access: the middleware in the pipeline.</summary>
internal static class AuthSetup
{
    /// <summary>Registers identity and access from configuration (src/Identity/Auth/IdentitySetup.cs).</summary>
    public static void AddGatewayAuth(this WebApplicationBuilder builder) => builder.Services.AddGatewayIdentity(builder.Configuration);

    /// <summary>Routing first (so the endpoint and its access rule are known), then the auth middleware.</summary>
    public static void UseGatewayAuth(this WebApplication app)
    {
        app.UseRouting();
        app.UseMiddleware<AuthMiddleware>();
    }
}
