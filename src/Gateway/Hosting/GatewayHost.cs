using Gateway.Abstractions;
using Gateway.Auth;
using Gateway.Backends.Onnx;
using Gateway.Documentation;
using Gateway.Grpc;
#if WITH_TORCH
using Gateway.Backends.Torch;
#endif
using Gateway.Protocol;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Telemetry;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// Builds the gateway's web application: configuration, services, Kestrel and endpoints.
/// <c>Program</c> runs it; functional tests build it on a loopback port.
/// </summary>
public static class GatewayHost
{
    /// <summary>The address used when neither <c>--urls</c> nor <c>ASPNETCORE_URLS</c> is given.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    private static readonly IDictionary<string, string> s_switchMappings = CommandLine.SwitchMappings();

    private static readonly KeyValuePair<string, string?>[] s_defaultSettings =
    [
        new("Logging:LogLevel:Microsoft.AspNetCore", "Warning"),
    ];

    /// <summary>The backends compiled into this binary, by name and platform (for <c>--version</c>).</summary>
    public static IReadOnlyList<(string Name, string Platform)> CompiledBackends()
    {
        var backends = new List<IBackend> { new OnnxBackend() };
#if WITH_TORCH
        backends.Add(new TorchBackend(new TorchBackendOptions()));
#endif
        return backends.ConvertAll(static b => (b.Name, b.Platform));
    }

    /// <summary>Builds the application; throws <see cref="OptionsValidationException"/> for bad settings.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // PERF: no reload-on-change for appsettings.json. With it, the host watches the content
        // root (the working directory) through a recursive FileSystemWatcher: one inotify watch
        // per subdirectory, set up at start-up. Started from a source checkout (a Debian root and
        // node_modules under it) that took 30 to 100 ms before the server was ready, and in
        // containers it is what exhausts fs.inotify.max_user_instances. Nothing here reloads
        // from it: secrets are re-read by the secret chain, models by the repository API. A later
        // --hostBuilder:reloadConfigOnChange=true on the command line still turns it back on.
        var builder = WebApplication.CreateSlimBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);

        // PERF: OpenSSL's initialisation (loading libssl and libcrypto, reading openssl.cnf) runs
        // on another core while the host is built; the first crypto call on this thread (the
        // ephemeral signing key, a bcrypt salt) finds it done or waits for the rest.
        ThreadPool.UnsafeQueueUserWorkItem(static _ => System.Security.Cryptography.RandomNumberGenerator.GetInt32(2), null);

        // PERF: at the default Information level ASP.NET Core writes four log lines per request
        // (hosting start/finish, routing executing/executed), which cost about a third of the
        // constant-GET throughput (docs/PERFORMANCE.md, "Core"). The ASP.NET Core templates keep
        // the category at Warning in appsettings.json; this is the same default as the
        // lowest-priority source, so appsettings, environment and command line still override it.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = s_defaultSettings });
        builder.Configuration.AddCommandLine(args, s_switchMappings);
        configure?.Invoke(builder);

        var options = builder.Configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        var problem = options.Validate();
        if (problem is not null)
        {
            throw new OptionsValidationException(GatewayOptions.SectionName, typeof(GatewayOptions), [problem]);
        }

        var grpc = builder.Configuration.GetSection(GrpcOptions.SectionName).Get<GrpcOptions>() ?? new GrpcOptions();
        if (grpc.Validate() is { } grpcProblem)
        {
            throw new OptionsValidationException(GrpcOptions.SectionName, typeof(GrpcOptions), [grpcProblem]);
        }

        var urls = builder.Configuration["urls"];
        var kestrelEndpoints = builder.Configuration.GetSection("Kestrel:Endpoints").Exists();
        if (string.IsNullOrEmpty(urls)
            && string.IsNullOrEmpty(builder.Configuration["http_ports"])
            && !kestrelEndpoints)
        {
            urls = DefaultUrl;
            builder.WebHost.UseUrls(DefaultUrl);
        }

        if (grpc.Enabled)
        {
            // The REST addresses are bound in code beside the gRPC port (GrpcSetup); "urls" is
            // emptied so that Kestrel does not also bind them (see below for its warning).
            var ports = builder.Configuration["http_ports"];
            var restUrls = kestrelEndpoints ? string.Empty
                : !string.IsNullOrEmpty(urls) ? urls
                : string.Join(';', (ports ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries).Select(static p => "http://*:" + p.Trim()));
            builder.Configuration[WebHostDefaults.ServerUrlsKey] = string.Empty;
            builder.Configuration[WebHostDefaults.HttpPortsKey] = string.Empty;
            builder.AddGatewayGrpc(grpc, restUrls, options.MaxRequestBodyBytes);
        }

        builder.AddGatewayTelemetry();
        if (grpc.Enabled)
        {
            // An empty "urls" makes the web host fall back to its own copy of --urls, taken when the
            // builder was made, and Kestrel, given those and the listeners set in code, logs that it
            // overrides them. A list with no address (";") adds none, so nothing is overridden.
            builder.Configuration[WebHostDefaults.ServerUrlsKey] = ";";
        }

        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = options.InlineSocketScheduling);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
        });

        var services = builder.Services;
        services.AddSingleton(Options.Create(options));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IBackend, OnnxBackend>();
#if WITH_TORCH
        var torchOptions = builder.Configuration.GetSection(TorchBackendOptions.SectionName).Get<TorchBackendOptions>() ?? new TorchBackendOptions();
        if (torchOptions.Validate() is { } torchProblem)
        {
            throw new OptionsValidationException(TorchBackendOptions.SectionName, typeof(TorchBackendOptions), [torchProblem]);
        }

        services.AddSingleton<IBackend>(new TorchBackend(torchOptions));
#endif
        // The repository is given the factory of its versions' schedulers (Gateway.Scheduling).
        services.AddSingleton<ISchedulerFactory>(static sp => new SchedulerFactory(
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ModelScheduler>>()));
        services.AddSingleton<ModelRepository>();
        services.AddHostedService<RepositoryLoader>();
        services.AddSingleton<InferHandler>();
        builder.AddGatewayAuth();
        builder.AddGatewayDocumentation();

        var app = builder.Build();
        app.UseGatewayTelemetry();
        app.UseGatewayAuth();
        app.UseGatewayGrpc(grpc);
        app.MapGatewayTelemetry();
        app.MapV2();
        app.MapRepository();
        app.MapStatistics();
        app.MapAuth();
        app.MapGatewayDocumentation();
        app.MapGatewayGrpc(grpc);
        // "{*path}", not MapFallback's default "{*path:nonfile}": a path that looks like a file
        // (/openapi/v2.json) gets the same 404 body as any other.
        // A gRPC call to a service or method not served gets UNIMPLEMENTED, as from any gRPC server.
        app.MapFallback("{*path}", static context => HttpErrors.WriteAsync(
            context,
            GrpcStatusMap.IsGrpc(context.Request) ? StatusCodes.Status501NotImplemented : StatusCodes.Status404NotFound,
            $"no endpoint for {context.Request.Method} {context.Request.Path}"))
            .Declare(EndpointAccess.Open, "404 with {\"error\"}", operation: null);
        RequireDeclarations(app);
        // PERF: start-up allocates about 10 MB (configuration, DI, telemetry, the identity
        // store) that is garbage once the server listens, and an idle gateway would never
        // allocate enough to collect it. One aggressive collection after start returns it to
        // the OS: idle RSS without models 51 -> 45 MiB (docs/PERFORMANCE.md). It runs on the
        // thread pool after the server has started, so it does not delay readiness.
        app.Lifetime.ApplicationStarted.Register(static () => ThreadPool.UnsafeQueueUserWorkItem(
            static _ => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true), null));

        return app;
    }

    /// <summary>
    /// Fails start-up naming every endpoint mapped without a declaration (<see cref="EndpointSpec"/>).
    /// The auth middleware would deny such an endpoint to everyone; this makes the mistake loud
    /// before a request finds it.
    /// </summary>
    private static void RequireDeclarations(IEndpointRouteBuilder app)
    {
        var undeclared = new List<string>();
        foreach (var source in app.DataSources)
        {
            undeclared.AddRange(EndpointDeclarations.Undeclared(source.Endpoints));
        }

        if (undeclared.Count > 0)
        {
            throw new InvalidOperationException("endpoints mapped without a declaration (.Declare(...)): " + string.Join(", ", undeclared));
        }
    }
}
