using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Gateway.Abstractions;
using Gateway.Protocol;

namespace Gateway.Tests.Protocol;

/// <summary>
/// The infer body reader: memory follows the bytes that arrive, never the Content-Length alone
/// (a client can declare 64 MiB and send nothing).
/// </summary>
public sealed class RequestBodyTests
{
    private const long Limit = 64L * 1024 * 1024;

    private static async Task<(InferRequest Request, (int Status, string Message)? Error)> ReadAsync(long? declared, params byte[][] chunks)
    {
        var pipe = new Pipe();
        var request = new InferRequest();
        request.Start(InferRequestParserTests.Model(DataType.FP32));
        var reading = RequestBody.ReadAsync(pipe.Reader, declared, Limit, request, CancellationToken.None).AsTask();
        foreach (var chunk in chunks)
        {
            await pipe.Writer.WriteAsync(chunk);
        }

        await pipe.Writer.CompleteAsync();
        return (request, await reading);
    }

    private static int RentedLength(InferRequest request) =>
        MemoryMarshal.TryGetArray(request.Body, out var segment) ? segment.Array!.Length : throw new InvalidOperationException("no array");

    [Fact]
    public async Task LargeDeclaredLength_SmallBody_RentsForWhatArrived()
    {
        var (request, error) = await ReadAsync(60_000_000, new byte[100]);
        Assert.Null(error);
        Assert.Equal(100, request.Body.Length);
        Assert.True(RentedLength(request) < 1024 * 1024, $"rented {RentedLength(request)} bytes for a 100-byte body that declared 60000000");
        request.Reset();
    }

    [Theory]
    [InlineData(3_000_000L)]
    [InlineData(null)]
    public async Task BodyInManyChunks_ReadWhole(long? declared)
    {
        var chunks = Enumerable.Range(0, 300).Select(i => Enumerable.Repeat((byte)i, 10_000).ToArray()).ToArray();
        var (request, error) = await ReadAsync(declared, chunks);
        Assert.Null(error);
        Assert.Equal(chunks.SelectMany(c => c).ToArray(), request.Body.ToArray());
        request.Reset();
    }

    [Fact]
    public async Task DeclaredBeyondTheLimit_Is413BeforeReading()
    {
        var (_, error) = await ReadAsync(Limit + 1);
        Assert.Equal(413, error?.Status);
    }
}
