using Gateway.Hosting;

namespace Gateway.Tests.Hosting;

/// <summary>
/// The command-line check in-process: every form the configuration accepts still passes (the
/// ways build.sh, compose, the Dockerfile, the tests and the load runner start the gateway), and
/// what it does not know is refused. The binary itself is run in Gateway.AotTests.
/// </summary>
public sealed class CommandLineTests
{
    public static TheoryData<string[]> GoodArguments => new(
        [],
        ["--urls", "http://0.0.0.0:8080", "--model-repository", "/models"],
        ["--urls", "http://127.0.0.1:8080;https://*:8443", "--Gateway:PollIntervalSeconds", "10"],
        ["--Auth:Mode=none", "--Logging:LogLevel:Default=Warning", "--hostBuilder:reloadConfigOnChange=true"],
        ["Gateway:ModelRepository=models", "--MODEL-REPOSITORY", "m", "--grpc-port", "8001"],
        ["--environment", "Development", "--contentRoot", "/app", "--http_ports", "8080"]);

    [Theory]
    [MemberData(nameof(GoodArguments))]
    public void ConfigurationForms_Pass(string[] args)
    {
        Assert.Null(CommandLine.Check(args));
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Null(CommandLine.Handle(args, [("onnx", "onnxruntime_onnx")], output, error));
        Assert.Equal("", output.ToString() + error.ToString());
    }

    [Theory]
    [InlineData(new[] { "--model-repo", "m" }, "unknown option '--model-repo'; did you mean --model-repository?")]
    [InlineData(new[] { "--grcp-port", "8001" }, "unknown option '--grcp-port'; did you mean --grpc-port?")]
    [InlineData(new[] { "--versoin" }, "unknown option '--versoin'; did you mean --version?")]
    [InlineData(new[] { "-p", "8080" }, "unknown option '-p'")]
    [InlineData(new[] { "--urls", "http://127.0.0.1:1", "--probe" }, "'--probe' must be the first argument (gateway --probe [URL])")]
    [InlineData(new[] { "--", "x" }, "'--' is not an option")]
    [InlineData(new[] { "--grpc-port", "0" }, "option '--grpc-port': '0' is not a port number from 1 to 65535")]
    [InlineData(new[] { "--urls", "" }, "option '--urls': needs at least one address, such as http://0.0.0.0:8080")]
    [InlineData(new[] { "--model-repository=" }, "option '--model-repository': needs a value that is not empty")]
    [InlineData(new[] { "--Gateway:MaxRequestBodyBytes" }, "option '--Gateway:MaxRequestBodyBytes' needs a value")]
    public void BadArguments_AreNamed(string[] args, string expected)
    {
        Assert.Equal(expected, CommandLine.Check(args));
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(2, CommandLine.Handle(args, [], output, error));
        Assert.Equal($"gateway: {expected} (see gateway --help){Environment.NewLine}", error.ToString());
    }

    [Fact]
    public void Help_And_Version_ExitZero()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, CommandLine.Handle(["--help"], [], output, error));
        Assert.Equal(CommandLine.Usage(), output.ToString());
        Assert.Contains("--grpc-port N", output.ToString());

        using var version = new StringWriter();
        Assert.Equal(0, CommandLine.Handle(["--version"], [("onnx", "onnxruntime_onnx"), ("torch", "pytorch_libtorch")], version, error));
        Assert.EndsWith("; backends: onnx (onnxruntime_onnx), torch (pytorch_libtorch)" + Environment.NewLine, version.ToString());
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public void EveryFlag_MapsToItsConfigurationKey()
    {
        var mappings = CommandLine.SwitchMappings();
        Assert.Equal("Gateway:ModelRepository", mappings["--model-repository"]);
        Assert.Equal("Grpc:Port", mappings["--grpc-port"]);
    }
}
