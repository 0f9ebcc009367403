using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
#if FLOOR_GRPC
using Gateway.Floor;
#endif

// The framework's floor (see the project file). It takes the gateway's command line as the load
// runner passes it (--urls, --Grpc:Port; anything else is ignored) and answers:
//   GET  /v2/health/live, /v2/health/ready    200, no body
//   POST /v2/models/{model}/infer (binary)    the tensor bytes echoed under a fixed JSON header
//   gRPC ModelInfer                           raw_input_contents echoed as raw_output_contents
var builder = WebApplication.CreateSlimBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
builder.Logging.SetMinimumLevel(LogLevel.Warning);

// Bound in code, as the gateway does once gRPC has its own port: the REST addresses from --urls,
// then HTTP/2 cleartext on --Grpc:Port.
var urls = (builder.Configuration["urls"] ?? "http://127.0.0.1:8080").Split(';', StringSplitOptions.RemoveEmptyEntries);
var grpcPort = builder.Configuration.GetValue<int?>("Grpc:Port");
builder.Configuration["urls"] = ";";
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    foreach (var url in urls)
    {
        var uri = new Uri(url.Replace("*", "0.0.0.0", StringComparison.Ordinal));
        kestrel.Listen(IPAddress.Parse(uri.Host), uri.Port);
    }

    if (grpcPort is { } port)
    {
        kestrel.Listen(IPAddress.Loopback, port, static listen => listen.Protocols = HttpProtocols.Http2);
    }
});

#if FLOOR_GRPC
builder.Services.AddGrpc();
builder.Services.AddSingleton<FloorService>();
#endif

var app = builder.Build();
app.MapGet("/v2/health/live", static () => Results.Ok());
app.MapGet("/v2/health/ready", static () => Results.Ok());
app.MapPost("/v2/models/{model}/infer", static (HttpContext context) => Echo.BinaryAsync(context));
#if FLOOR_GRPC
app.MapGrpcService<FloorService>();
#endif
app.Run();

/// <summary>The binary extension's echo: the request's tensor bytes under a fixed JSON header.</summary>
internal static class Echo
{
    public static async Task BinaryAsync(HttpContext context)
    {
        if (!int.TryParse(context.Request.Headers["Inference-Header-Content-Length"], NumberStyles.None, CultureInfo.InvariantCulture, out var headerLength))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("{\"error\":\"the floor answers the binary extension only (Inference-Header-Content-Length)\"}");
            return;
        }

        var reader = context.Request.BodyReader;
        ReadResult read;
        while (!(read = await reader.ReadAsync()).IsCompleted)
        {
            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        var body = read.Buffer;
        if (body.Length < headerLength)
        {
            reader.AdvanceTo(body.End);
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("{\"error\":\"the body is shorter than Inference-Header-Content-Length\"}");
            return;
        }

        var tensor = body.Slice(headerLength);
        var header = Encoding.UTF8.GetBytes(
            $"{{\"model_name\":\"identity\",\"outputs\":[{{\"name\":\"OUTPUT0\",\"datatype\":\"FP32\",\"shape\":[1,{tensor.Length / 4}],\"parameters\":{{\"binary_data_size\":{tensor.Length}}}}}]}}");
        var response = context.Response;
        response.ContentType = "application/octet-stream";
        response.Headers["Inference-Header-Content-Length"] = header.Length.ToString(CultureInfo.InvariantCulture);
        response.ContentLength = header.Length + tensor.Length;
        response.BodyWriter.Write(header);
        foreach (var segment in tensor)
        {
            response.BodyWriter.Write(segment.Span);
        }

        reader.AdvanceTo(body.End);
        await response.BodyWriter.FlushAsync();
    }
}
