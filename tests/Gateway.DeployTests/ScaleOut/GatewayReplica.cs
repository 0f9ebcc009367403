using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.DeployTests.ScaleOut;

/// <summary>
/// One replica: the published Native-AOT binary (<see cref="GatewayProcess"/>) on a given loopback
/// port with its console output kept, and what the scale-out tests read from it.
/// </summary>
internal sealed class GatewayReplica : IAsyncDisposable
{
    private readonly GatewayProcess _gateway;

    private GatewayReplica(string name, GatewayProcess gateway)
    {
        Name = name;
        _gateway = gateway;
    }

    public string Name { get; }

    public int Port => _gateway.Port;

    public Uri Address => _gateway.Address;

    public Process Process => _gateway.Process;

    /// <summary>Everything the process has written so far.</summary>
    public string Output => _gateway.Output;

    public static GatewayReplica Start(string name, int port, string repository, string secretsDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var info = new GatewayStartInfo { Port = port, ModelRepository = repository, Arguments = { "--Secrets:Directory", secretsDirectory } };
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return new GatewayReplica(name, GatewayProcess.Start(info));
    }

    /// <summary>A client straight to this replica, optionally with a bearer credential.</summary>
    public HttpClient Client(string? bearer = null)
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    public async Task WaitReadyAsync()
    {
        try
        {
            await _gateway.WaitReadyAsync(TimeSpan.FromSeconds(90));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"replica {Name}: {e.Message}", e);
        }
    }

    /// <summary>The <c>inference_count</c> of every version of every model, by model name, read from this replica.</summary>
    public async Task<Dictionary<string, (long Inferences, int QueueDepth)>> StatsAsync(string bearer)
    {
        using var client = Client(bearer);
        using var response = await client.GetAsync("/v2/models/stats");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"stats on {Name}: {(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        var result = new Dictionary<string, (long, int)>(StringComparer.Ordinal);
        foreach (var model in json.RootElement.GetProperty("model_stats").EnumerateArray())
        {
            var name = model.GetProperty("name").GetString()!;
            var (count, depth) = result.GetValueOrDefault(name);
            result[name] = (count + model.GetProperty("inference_count").GetInt64(), depth + model.GetProperty("queue_depth").GetInt32());
        }

        return result;
    }

    /// <summary>Sends SIGTERM: the gateway stops accepting, finishes what it runs, then exits.</summary>
    public void Terminate() => _gateway.Terminate();

    public Task<int> WaitExitAsync(TimeSpan timeout) => _gateway.WaitExitAsync(timeout);

    public ValueTask DisposeAsync() => _gateway.DisposeAsync();
}
