using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gateway.Auth;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Grpc;

/// <summary>
/// Settings under <c>Grpc</c> (environment <c>Grpc__Port</c>; Triton's <c>--grpc-port</c>).
/// The gRPC service is off unless a port is given: it then listens on that port, HTTP/2 only
/// (cleartext with prior knowledge, as gRPC clients use it, or TLS with a <c>Certificate</c>), on
/// the host of the first REST address.
/// </summary>
public sealed class GrpcOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Grpc";

    /// <summary>The gRPC port; 0 (the default) serves no gRPC.</summary>
    public int Port { get; set; }

    /// <summary>Whether gRPC is served.</summary>
    public bool Enabled => Port != 0;

    /// <summary>
    /// The server certificate for TLS on the gRPC port, with the names of Kestrel's own certificate
    /// settings (<c>Path</c>, <c>KeyPath</c>, <c>Password</c>); without a <c>Path</c> the port is
    /// HTTP/2 cleartext.
    /// </summary>
    public GrpcCertificateOptions Certificate { get; set; } = new();

    /// <summary>Whether the gRPC port speaks TLS.</summary>
    public bool Tls => !string.IsNullOrEmpty(Certificate.Path);

    /// <summary>Checks the values; returns the first problem, naming its key, or null.</summary>
    public string? Validate() =>
        Port is < 0 or > 65535 ? $"{SectionName}:Port must be from 0 (off) to 65535 (got {Port})"
        : !Tls && (!string.IsNullOrEmpty(Certificate.KeyPath) || !string.IsNullOrEmpty(Certificate.Password))
            ? $"{SectionName}:Certificate:KeyPath and :Password need {SectionName}:Certificate:Path (the certificate)"
        : null;
}

/// <summary><c>Grpc:Certificate</c>: a PEM certificate with its key, or a PKCS#12 file.</summary>
public sealed class GrpcCertificateOptions
{
    /// <summary>A PEM certificate (with <see cref="KeyPath"/>, or with the key in the same file) or a .pfx/.p12 file.</summary>
    public string? Path { get; set; }

    /// <summary>The PEM private key, when it is not in <see cref="Path"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>The password of a PKCS#12 file or of an encrypted PEM key.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Loads the certificate once at start, so that a wrong path or password stops start-up with
    /// the key's name rather than failing each TLS handshake later.
    /// </summary>
    public X509Certificate2 Load()
    {
        var path = Path!;
        try
        {
            var extension = System.IO.Path.GetExtension(path);
            if (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase))
            {
                return X509CertificateLoader.LoadPkcs12FromFile(path, Password);
            }

            var pem = string.IsNullOrEmpty(Password)
                ? X509Certificate2.CreateFromPemFile(path, KeyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(path, Password, KeyPath);
            // An ephemeral PEM key cannot be used by SslStream on every platform; a PKCS#12 round trip can.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"{GrpcOptions.SectionName}:Certificate:Path '{path}' could not be loaded: {ex.Message}", ex);
        }
    }
}

/// <summary>Registers, listens for and maps the gRPC inference service.</summary>
internal static class GrpcSetup
{
    /// <summary>The service's path prefix: <c>/inference.GRPCInferenceService/</c>.</summary>
    public const string ServicePath = "/inference.GRPCInferenceService/";

    /// <summary>
    /// Adds the gRPC services and the listener. Kestrel binds either the addresses of
    /// <c>--urls</c> or the listeners configured in code, not both; so with gRPC on, the REST
    /// addresses are bound here too, as Kestrel would have bound them.
    /// </summary>
    public static void AddGatewayGrpc(this WebApplicationBuilder builder, GrpcOptions options, string restUrls, long maxRequestBytes)
    {
        if (!options.Enabled)
        {
            return;
        }

        builder.Services.AddGrpc(grpc =>
        {
            // The same bound as a REST body (Gateway:MaxRequestBodyBytes, at most int.MaxValue by
            // its validation): gRPC's own 4 MB default would refuse an ordinary image batch, and
            // Grpc.AspNetCore lifts Kestrel's body limit for its calls, so this is the only one.
            grpc.MaxReceiveMessageSize = (int)maxRequestBytes;
            grpc.MaxSendMessageSize = null;
            // Unknown services and methods fall through to the gateway's fallback, which answers
            // UNIMPLEMENTED (an endpoint Grpc.AspNetCore maps for them would declare no access).
            grpc.IgnoreUnknownServices = true;
        });

        // PERF: one instance for every call. Grpc.AspNetCore activates a service that is not in
        // the container anew for each call, by reflection, and this one builds its request pool
        // and server metadata in its constructor: a fresh pool per call pooled nothing.
        builder.Services.AddSingleton<InferenceService>();

        var certificate = options.Tls ? options.Certificate.Load() : null;
        var restAddresses = ParseUrls(restUrls);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var (address, port, https) in restAddresses)
            {
                Listen(kestrel, address, port, https ? static listen => listen.UseHttps() : null);
            }

            var grpcHost = restAddresses.Count > 0 ? restAddresses[0].Address : IPAddress.Loopback;
            Listen(kestrel, grpcHost, options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (certificate is not null)
                {
                    // HTTP/2 over TLS is chosen by ALPN (h2), which every gRPC client offers.
                    listen.UseHttps(certificate);
                }
            });
        });
    }

    /// <summary>
    /// For gRPC calls, hands the request size limit from Kestrel's body limit to gRPC's message
    /// limit (the same number): Kestrel's would fail the call with an exception the client reads as
    /// <c>UNKNOWN</c>, gRPC's answers <c>RESOURCE_EXHAUSTED</c> naming the limit.
    /// </summary>
    public static void UseGatewayGrpc(this IApplicationBuilder app, GrpcOptions options)
    {
        if (!options.Enabled)
        {
            return;
        }

        app.Use(static (context, next) =>
        {
            if (GrpcStatusMap.IsGrpc(context.Request) && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = null;
            }

            return next(context);
        });
    }

    /// <summary>
    /// Each method's declaration, as REST's equivalent endpoint declares it: who may call it and
    /// its line in the permission matrix (docs/AUTH.md). gRPC methods have no OpenAPI operation.
    /// </summary>
    private static readonly Dictionary<string, (EndpointAccess Access, string What)> s_methods = new(StringComparer.Ordinal)
    {
        ["ServerLive"] = (EndpointAccess.Open, "gRPC liveness (with Grpc:Port)"),
        ["ServerReady"] = (EndpointAccess.Open, "gRPC readiness"),
        ["ModelReady"] = (Permission.ReadMetadata, "gRPC model readiness"),
        ["ServerMetadata"] = (Permission.ReadMetadata, "gRPC server metadata"),
        ["ModelMetadata"] = (Permission.ReadMetadata, "gRPC model metadata"),
        ["ModelInfer"] = (Permission.Infer, "gRPC inference (and the model's access list)"),
        ["RepositoryIndex"] = (Permission.ReadMetadata, "gRPC repository index"),
        ["RepositoryModelLoad"] = (Permission.ControlModels, "gRPC load or reload a model"),
        ["RepositoryModelUnload"] = (Permission.ControlModels, "gRPC unload a model"),
    };

    /// <summary>Maps the service; each method is declared from <see cref="s_methods"/>.</summary>
    public static void MapGatewayGrpc(this IEndpointRouteBuilder app, GrpcOptions options)
    {
        if (!options.Enabled)
        {
            return;
        }

        app.MapGrpcService<InferenceService>().Add(static endpoint =>
        {
            foreach (var item in endpoint.Metadata)
            {
                if (item is GrpcMethodMetadata method)
                {
                    // A method without a row stays undeclared, and start-up fails naming it.
                    if (s_methods.TryGetValue(method.Method.Name, out var declared))
                    {
                        endpoint.Metadata.Add(EndpointDeclarations.Spec(declared.Access, declared.What, operation: null));
                    }

                    return;
                }
            }

            // Grpc.AspNetCore's endpoint for a method the service does not implement: answered UNIMPLEMENTED.
            endpoint.Metadata.Add(EndpointDeclarations.Spec(EndpointAccess.Open, "gRPC method not served: UNIMPLEMENTED", operation: null));
        });
    }

    private static void Listen(KestrelServerOptions kestrel, IPAddress? address, int port, Action<ListenOptions>? configure)
    {
        configure ??= static _ => { };
        if (address is null)
        {
            kestrel.ListenLocalhost(port, configure);
        }
        else if (address.Equals(IPAddress.IPv6Any))
        {
            kestrel.ListenAnyIP(port, configure);
        }
        else
        {
            kestrel.Listen(address, port, configure);
        }
    }

    /// <summary>
    /// <c>--urls</c> as Kestrel reads it: <c>http[s]://host:port</c> separated by <c>;</c>, where
    /// <c>*</c>, <c>+</c> and other names but <c>localhost</c> mean every address.
    /// </summary>
    internal static List<(IPAddress? Address, int Port, bool Https)> ParseUrls(string urls)
    {
        var result = new List<(IPAddress?, int, bool)>();
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var https = url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            var rest = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/');
            var colon = rest.LastIndexOf(':');
            var hostText = colon > 0 && !rest.EndsWith(']') ? rest[..colon] : rest;
            var port = colon > 0 && !rest.EndsWith(']') && int.TryParse(rest[(colon + 1)..], out var p) ? p : https ? 443 : 80;
            IPAddress? address = hostText switch
            {
                "localhost" => null,
                _ when IPAddress.TryParse(hostText.Trim('[', ']'), out var ip) => ip,
                _ => IPAddress.IPv6Any,
            };
            result.Add((address, port, https));
        }

        return result;
    }
}
