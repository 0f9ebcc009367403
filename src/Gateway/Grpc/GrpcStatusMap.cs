using System.Text;
using Gateway.Abstractions;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;

namespace Gateway.Grpc;

/// <summary>
/// The gRPC status for each HTTP status the gateway answers, as Triton maps its errors: bad input
/// is <c>INVALID_ARGUMENT</c>, an unknown model <c>NOT_FOUND</c>, a model that cannot serve
/// <c>UNAVAILABLE</c>, a full queue or a rate limit <c>RESOURCE_EXHAUSTED</c>. Errors decided
/// before the gRPC service runs (authentication, roles, rate limits in the auth middleware) are
/// written as trailers-only gRPC responses with the same mapping (<see cref="Protocol.HttpErrors"/>).
/// </summary>
internal static class GrpcStatusMap
{
    /// <summary>The gRPC code for an HTTP status.</summary>
    public static StatusCode FromHttp(int status) => status switch
    {
        StatusCodes.Status400BadRequest => StatusCode.InvalidArgument,
        StatusCodes.Status401Unauthorized => StatusCode.Unauthenticated,
        StatusCodes.Status403Forbidden => StatusCode.PermissionDenied,
        StatusCodes.Status404NotFound => StatusCode.NotFound,
        StatusCodes.Status409Conflict => StatusCode.AlreadyExists,
        StatusCodes.Status413PayloadTooLarge => StatusCode.ResourceExhausted,
        StatusCodes.Status429TooManyRequests => StatusCode.ResourceExhausted,
        StatusCodes.Status501NotImplemented => StatusCode.Unimplemented,
        StatusCodes.Status503ServiceUnavailable => StatusCode.Unavailable,
        StatusCodes.Status504GatewayTimeout => StatusCode.DeadlineExceeded,
        _ when status is >= 400 and < 500 => StatusCode.FailedPrecondition,
        _ => StatusCode.Internal,
    };

    /// <summary>The gRPC code for a backend's failure to run.</summary>
    public static StatusCode ForBackend(BackendErrorKind kind) => kind switch
    {
        BackendErrorKind.InvalidInput => StatusCode.InvalidArgument,
        BackendErrorKind.Unavailable => StatusCode.Unavailable,
        _ => StatusCode.Internal,
    };

    /// <summary>
    /// The HTTP status a gRPC status stands for, as google.rpc.Code documents the pair (OK 200,
    /// CANCELLED 499, INVALID_ARGUMENT 400, NOT_FOUND 404, RESOURCE_EXHAUSTED 429, UNAVAILABLE
    /// 503, ...). The HTTP metrics count a gRPC call under it, so that a failed call is not counted
    /// as 200 (gRPC answers HTTP 200 and carries its status in <c>grpc-status</c>) and the 5xx
    /// alerts see <c>INTERNAL</c> and <c>UNAVAILABLE</c> as they see REST's 500 and 503.
    /// </summary>
    public static int ToHttp(StatusCode code) => code switch
    {
        StatusCode.OK => StatusCodes.Status200OK,
        StatusCode.Cancelled => 499,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError, // UNKNOWN, INTERNAL, DATA_LOSS
    };

    /// <summary>
    /// The HTTP status of a finished gRPC call for the metrics: its <c>grpc-status</c> (a trailer,
    /// or a header in a trailers-only answer) through <see cref="ToHttp"/>. A call that ended
    /// without one was cut off: 499 when the client went away, else 500.
    /// </summary>
    public static int CallStatus(HttpContext context)
    {
        var value = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers[GrpcStatusHeader] ?? default;
        if (value.Count == 0)
        {
            value = context.Response.Headers[GrpcStatusHeader];
        }

        if (value.Count == 1 && int.TryParse(value[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code) && code is >= 0 and <= 16)
        {
            return ToHttp((StatusCode)code);
        }

        return context.RequestAborted.IsCancellationRequested ? 499 : StatusCodes.Status500InternalServerError;
    }

    private const string GrpcStatusHeader = "grpc-status";

    /// <summary>Whether the request is a gRPC call (its content type is <c>application/grpc[+proto]</c>).</summary>
    public static bool IsGrpc(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <c>grpc-message</c>'s percent-encoding (gRPC's HTTP/2 protocol): printable ASCII but
    /// <c>%</c> as is, every other byte of the UTF-8 text as <c>%XX</c>.
    /// </summary>
    public static string EncodeMessage(string message)
    {
        var needs = false;
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                needs = true;
                break;
            }
        }

        if (!needs)
        {
            return message;
        }

        var builder = new StringBuilder(message.Length + 16);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is < (byte)' ' or > (byte)'~' or (byte)'%')
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append((char)b);
            }
        }

        return builder.ToString();
    }
}
