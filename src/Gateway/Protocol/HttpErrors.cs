using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Abstractions;
using Gateway.Buffers;

namespace Gateway.Protocol;

/// <summary>Error responses: always <c>{"error": "..."}</c> with the status that fits.</summary>
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

        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        var body = Serialise(message);
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
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
