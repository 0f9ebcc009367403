using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Abstractions;
using Gateway.Buffers;
using Gateway.Grpc;

namespace Gateway.Protocol;

/// <summary>
/// Error responses: always <c>{"error": "..."}</c> with the status that fits; for a gRPC call
/// (refused before its service ran: credentials, role, rate limit, no such method) a
/// trailers-only gRPC response whose status maps the HTTP one (<see cref="GrpcStatusMap"/>).
/// </summary>
internal static class HttpErrors
{
    public static Task WriteAsync(HttpContext context, int statusCode, string message)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            // Too late for a status: the connection is aborted so the client sees a failure, not a truncated success.
            context.Abort();
            return Task.CompletedTask;
        }

        if (GrpcStatusMap.IsGrpc(context.Request))
        {
            return WriteGrpc(response, statusCode, message);
        }

        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        var body = Serialise(message);
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }

    /// <summary>
    /// A trailers-only gRPC answer: HTTP 200 whose headers carry <c>grpc-status</c> and
    /// <c>grpc-message</c> and no body, which every gRPC client reads as the call's status.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static Task WriteGrpc(HttpResponse response, int statusCode, string message)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        var headers = response.Headers;
        headers["grpc-status"] = ((int)GrpcStatusMap.FromHttp(statusCode)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        headers["grpc-message"] = GrpcStatusMap.EncodeMessage(message);
        return Task.CompletedTask;
    }

    /// <summary>
    /// <c>{"error": message}</c>. The relaxed encoder keeps quotes and apostrophes readable; the
    /// body is served as application/json, never embedded in HTML.
    /// </summary>
    public static byte[] Serialise(string message)
    {
        using var buffer = new PooledBufferWriter(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("error"u8, message);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The status for a backend's error kind.</summary>
    public static int StatusFor(BackendErrorKind kind) => kind switch
    {
        BackendErrorKind.InvalidInput => StatusCodes.Status400BadRequest,
        BackendErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };
}
