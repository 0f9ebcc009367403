using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Buffers;
using Microsoft.Extensions.ObjectPool;

namespace Gateway.Protocol;

/// <summary>
/// Everything one infer call needs besides the HTTP context, pooled so that steady-state
/// requests reuse their arrays, buffer writer and JSON writer.
/// </summary>
internal sealed class InferContext
{
    // The relaxed encoder writes ids and names as they are (quotes escaped as \"); responses are
    // application/json, never embedded in HTML.
    private static readonly JsonWriterOptions s_writerOptions = new()
    {
        SkipValidation = true,
        Indented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public InferContext()
    {
        Response = new PooledBufferWriter();
        Json = new Utf8JsonWriter(Response, s_writerOptions);
    }

    public InferRequest Request { get; } = new();

    /// <summary>The response's JSON part.</summary>
    public PooledBufferWriter Response { get; }

    public Utf8JsonWriter Json { get; }

    public void Reset()
    {
        Request.Reset();
        Response.Reset();
        Json.Reset(Response);
    }

    /// <summary>Pool policy: reset on return.</summary>
    public sealed class Policy : PooledObjectPolicy<InferContext>
    {
        public override InferContext Create() => new();

        public override bool Return(InferContext context)
        {
            context.Reset();
            return true;
        }
    }
}
