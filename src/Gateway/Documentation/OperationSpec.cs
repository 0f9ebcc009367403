using Gateway.Protocol;

namespace Gateway.Documentation;

/// <summary>One content type of a body: JSON of a type, or text or bytes described in words.</summary>
internal sealed record Media(string ContentType, Type? Json, string? Format = null, string? Description = null)
{
    public static Media JsonOf<T>() => new("application/json", typeof(T));

    public static Media Text(string contentType, string description) => new(contentType, null, null, description);

    public static Media Bytes(string description) => new("application/octet-stream", null, "binary", description);
}

/// <summary>A response or request header.</summary>
internal sealed record HeaderSpec(string Name, string Description, bool Integer = false);

/// <summary>One status an operation can answer.</summary>
internal sealed record Reply(int Status, string Description, Media[] Content, HeaderSpec[] Headers)
{
    /// <summary>A success without a body.</summary>
    public static Reply Empty(int status, string description, params HeaderSpec[] headers) => new(status, description, [], headers);

    /// <summary>A success with a JSON body of <typeparamref name="T"/>.</summary>
    public static Reply Json<T>(int status, string description) => new(status, description, [Media.JsonOf<T>()], []);

    /// <summary>An error: always <c>{"error": "..."}</c>.</summary>
    public static Reply Error(int status, string description, params HeaderSpec[] headers) => new(status, description, [Media.JsonOf<ErrorResponse>()], headers);
}

/// <summary>A request body.</summary>
internal sealed record BodySpec(bool Required, string Description, params Media[] Content);

/// <summary>
/// What the document says about one endpoint beyond its method, path and access, which come from
/// the endpoint itself. Part of the endpoint's declaration (<see cref="Auth.EndpointSpec"/>), written
/// where the endpoint is mapped.
/// </summary>
internal sealed record OperationSpec(string Id, string Tag, string Summary, string Description, BodySpec? Body, HeaderSpec[] RequestHeaders, Reply[] Replies)
{
    /// <summary>An operation without a request body or request headers.</summary>
    public OperationSpec(string id, string tag, string summary, string description, params Reply[] replies)
        : this(id, tag, summary, description, null, [], replies)
    {
    }

    /// <summary>An operation with a request body and no request headers.</summary>
    public OperationSpec(string id, string tag, string summary, string description, BodySpec body, params Reply[] replies)
        : this(id, tag, summary, description, body, [], replies)
    {
    }
}

/// <summary>
/// Answers and bodies that several endpoints share, so their declarations say them the same way.
/// </summary>
internal static class Replies
{
    public static readonly HeaderSpec RetryAfterHeader = new("Retry-After", "Seconds to wait before retrying.", Integer: true);

    /// <summary>An unknown model or version, or one not available.</summary>
    public static readonly Reply[] ModelErrors =
    [
        Reply.Error(404, "Unknown model, or a version that is not served."),
        Reply.Error(503, "The model is known but not available (loading, failed to load, unloaded); the reason is in the body."),
    ];

    /// <summary>Every identity operation needs the store (docs/RUNBOOK.md, "Dependencies").</summary>
    public static readonly Reply StoreDown = Reply.Error(503, "The identity store is unreachable; tokens already issued keep working for inference.", RetryAfterHeader);

    public static readonly Reply BadId = Reply.Error(400, "The id is not a positive integer.");

    public static Reply TooLarge(string limit) => Reply.Error(413, $"The body is over {limit}.");

    public static Reply BadBody(string what) => Reply.Error(400, $"Empty, malformed or unknown-field JSON body, or {what}; the message says which field.");

    public static BodySpec JsonBody<T>(string description, bool required = true) => new(required, description, Media.JsonOf<T>());
}
