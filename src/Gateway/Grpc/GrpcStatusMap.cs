using System.Text;
using Gateway.Abstractions;
using Grpc.Core;

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
