using System.Buffers;
using System.IO.Pipelines;

namespace Gateway.Protocol;

/// <summary>
/// Reads an infer request's body through the request's <see cref="PipeReader"/> into one array
/// rented from <see cref="ArrayPool{T}.Shared"/>, which the <see cref="InferRequest"/> then owns.
/// </summary>
internal static class RequestBody
{
    /// <summary>
    /// The most rented before any data has arrived. A larger body grows the array by doubling as
    /// it arrives (at most one extra copy of what came), so a client that declares 64 MiB and
    /// sends nothing holds 64 KiB, not 64 MiB.
    /// </summary>
    public const int InitialRentLimit = 64 * 1024;

    /// <summary>
    /// Reads the whole body into <paramref name="request"/>; null on success, else the status and
    /// message to answer with (413 beyond <paramref name="maxBodyBytes"/>).
    /// </summary>
    public static async ValueTask<(int Status, string Message)?> ReadAsync(
        PipeReader reader, long? declared, long maxBodyBytes, InferRequest request, CancellationToken cancellationToken)
    {
        if (declared > maxBodyBytes)
        {
            return (StatusCodes.Status413PayloadTooLarge, $"request body of {declared} bytes exceeds the limit of {maxBodyBytes} bytes");
        }

        // Memory follows the data, not the Content-Length (issue 11).
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(declared ?? 4096, InitialRentLimit));
        var ceiling = declared ?? maxBodyBytes;
        var filled = 0;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(cancellationToken);
                var sequence = read.Buffer;
                if (filled + sequence.Length > maxBodyBytes)
                {
                    reader.AdvanceTo(sequence.End);
                    return (StatusCodes.Status413PayloadTooLarge, $"request body exceeds the limit of {maxBodyBytes} bytes");
                }

                if (filled + sequence.Length > buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Max(Math.Min(ceiling, buffer.Length * 2L), filled + sequence.Length));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                sequence.CopyTo(buffer.AsSpan(filled));
                filled += (int)sequence.Length;
                reader.AdvanceTo(sequence.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            request.SetBody(buffer, filled);
            buffer = null;
            return null;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
