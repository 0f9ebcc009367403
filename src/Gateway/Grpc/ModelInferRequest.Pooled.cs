using System.Buffers;

namespace Gateway.Grpc.V2;

/// <summary>The pooled memory behind a message read by <see cref="Grpc.ModelInferRequestReader"/>.</summary>
internal sealed partial class ModelInferRequest
{
    private byte[]? _pooled;

    /// <summary>
    /// Gives the rented memory behind <see cref="RawInputContents"/> back to the pool; the byte
    /// strings must not be read afterwards. Called once the scheduler is done with the request.
    /// </summary>
    public void ReturnPooled()
    {
        if (_pooled is { } pooled)
        {
            _pooled = null;
            ArrayPool<byte>.Shared.Return(pooled);
        }
    }

    /// <summary>Whether the raw contents live in pooled memory (read by the gateway's reader).</summary>
    internal bool IsPooled => _pooled is not null;

    internal void AttachPooled(byte[] pooled) => _pooled = pooled;
}
