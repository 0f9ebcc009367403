namespace Gateway.Testing;

/// <summary>
/// How to start a gateway: the command (the published Native-AOT binary unless told otherwise),
/// the model repository, its own arguments and environment, and where its console output goes.
/// </summary>
public sealed class GatewayStartInfo
{
    /// <summary>The executable; null means <see cref="GatewayProcess.BinaryPath"/>.</summary>
    public string? FileName { get; init; }

    /// <summary>Given as <c>--model-repository</c> when set.</summary>
    public string? ModelRepository { get; init; }

    /// <summary>The loopback port for <c>--urls</c>; null picks a free one.</summary>
    public int? Port { get; init; }

    /// <summary>Arguments after <c>--urls</c> and <c>--model-repository</c> (for a key given twice, the last wins).</summary>
    public IList<string> Arguments { get; } = [];

    /// <summary>Environment variables added to this process's own.</summary>
    public IDictionary<string, string> Environment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// When set, the console output is appended to this file by a shell that then execs the
    /// gateway (the process id stays the gateway's), and nothing is read by this process: the
    /// load runner keeps its own CPU out of the way. Otherwise the output is kept in memory
    /// (<see cref="GatewayProcess.Output"/>).
    /// </summary>
    public string? LogFile { get; init; }

    /// <summary>
    /// When set, given as <c>Auth__BootstrapAdminPassword</c>, and <see cref="GatewayProcess.WaitReadyAsync"/>
    /// logs <see cref="GatewayProcess.Client"/> in as <c>admin</c> once the gateway is ready.
    /// </summary>
    public string? AdminPassword { get; init; }
}
