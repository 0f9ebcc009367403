using System.Runtime.InteropServices;
using Gateway.Demo;

// The demo driver: seed, tour, soak, against the stack scripts/demo.sh starts. Exit code 0 only
// when every step of the tour did what it showed and the soak had no error and flat memory.
var options = DemoOptions.Parse(args, out var problem);
if (options is null)
{
    if (problem.Length > 0)
    {
        Console.Error.WriteLine("Gateway.Demo: " + problem);
    }

    Console.Error.WriteLine(DemoOptions.Usage);
    return problem.Length > 0 ? 2 : 0;
}

using var output = new Output(options.ReportPath);
output.Line($"demo started {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Machine()}");
output.Line($"nginx {options.Nginx}, replicas {string.Join(", ", options.Replicas.Select(static r => $"{r.Name} {r.Address} (pid {r.Pid})"))}, Prometheus {options.Prometheus}");

var identity = InferRequest.Json(options.Models, "identity");
var mobilenet = InferRequest.Binary(options.Models, "mobilenet_v2");
var bert = InferRequest.Json(options.Models, "bert_tiny");
try
{
    var tour = new Tour(options, output);
    await tour.SeedAsync();
    await tour.RunAsync([identity, mobilenet, bert]);
    output.Line("\ntour passed: every step did what it showed");
    if (options.SoakSeconds == 0)
    {
        return 0;
    }

    return await new Soak(options, output).RunAsync(identity, mobilenet, bert) ? 0 : 1;
}
catch (DemoFailure failure)
{
    output.Line($"\ndemo FAILED: {failure.Message}");
    return 1;
}

static string Machine()
{
    var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(static l => l.StartsWith("model name", StringComparison.Ordinal));
    var memory = File.ReadLines("/proc/meminfo").FirstOrDefault(static l => l.StartsWith("MemTotal", StringComparison.Ordinal));
    var load = File.ReadAllText("/proc/loadavg").Split(' ');
    return $"{Environment.ProcessorCount} cores ({cpu?[(cpu.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim() ?? "unknown CPU"}), "
        + $"{(memory is null ? "?" : (long.Parse(memory.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / (1024 * 1024)).ToString(System.Globalization.CultureInfo.InvariantCulture))} GiB, "
        + $"{RuntimeInformation.OSDescription}, .NET {Environment.Version}, load average {load[0]} {load[1]} {load[2]}";
}
