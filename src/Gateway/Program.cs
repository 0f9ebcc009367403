using Gateway.Hosting;
using Microsoft.Extensions.Options;

if (Probe.IsRequested(args))
{
    return await Probe.RunAsync(args, Console.Error);
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
