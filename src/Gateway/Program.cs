using Gateway.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

if (Probe.IsRequested(args))
{
    return await Probe.RunAsync(args, Console.Error);
}

// --help, --version, and unknown flags or bad values answered before any host is built.
if (CommandLine.Handle(args, GatewayHost.CompiledBackends(), Console.Out, Console.Error) is { } exit)
{
    return exit;
}

try
{
    var app = GatewayHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    await Console.Error.WriteLineAsync("gateway: invalid configuration: " + ex.Message);
    return 2;
}
catch (IOException ex) when (ex.InnerException is AddressInUseException)
{
    // Kestrel's "Failed to bind to address http://...: address already in use."; the host has
    // logged it too. A clear line and an exit code, not an unhandled exception and SIGABRT.
    await Console.Error.WriteLineAsync($"gateway: cannot listen: {ex.Message} Stop the other process or choose another address with --urls.");
    return 3;
}
