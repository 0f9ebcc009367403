using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using CsCheck;
using Gateway.Abstractions;
using Gateway.Protocol;
using Microsoft.AspNetCore.Http;

namespace Gateway.FuzzTests;

/// <summary>
/// A mutated infer request: a seed, mutations of its JSON, and one change to the binary framing
/// (the Inference-Header-Content-Length value, the tensor bytes after the JSON).
/// </summary>
internal sealed record InferCase(int Seed, Mutation[] Mutations, int FramingOp, uint FramingArg)
{
    public static readonly Gen<InferCase> Gen = CsCheck.Gen.Select(
        CsCheck.Gen.Int[0, InferSeeds.All.Value.Length - 1], Mutator.Some, CsCheck.Gen.Int[0, 8], CsCheck.Gen.UInt,
        static (seed, mutations, op, arg) => new InferCase(seed, mutations, op, arg));

    private static readonly string[] s_oddLengths = ["", "abc", "-1", "0", "1", "2", " 5", "+5", "0x10", "99999999999999999999", "1.5", "5, 6"];

    public InferSeed Source => InferSeeds.All.Value[Seed];

    /// <summary>The body and the Inference-Header-Content-Length value (null: no such header).</summary>
    public (byte[] Body, string? HeaderLength) Build()
    {
        var json = Mutator.Apply(Source.Tree, Mutations);
        var binary = Source.Binary ?? [];
        var headerLength = Source.Binary is null ? (int?)null : json.Length;
        switch (FramingOp)
        {
            case 1: // the JSON part's length off by a little
                headerLength = json.Length + (int)(FramingArg % 21) - 10;
                break;
            case 2: // a header value that is not a length
                return ([.. json, .. binary], s_oddLengths[FramingArg % (uint)s_oddLengths.Length]);
            case 3: // the tensor bytes cut short
                binary = binary[..(int)(FramingArg % (uint)(binary.Length + 1))];
                break;
            case 4: // bytes nobody claims after the tensors
                binary = [.. binary, .. new byte[FramingArg % 70]];
                break;
            case 5: // a BYTES length prefix (or any four bytes) replaced with a large or odd number
                if (binary.Length >= 4)
                {
                    binary = (byte[])binary.Clone();
                    var at = (int)(FramingArg % (uint)(binary.Length - 3));
                    BinaryPrimitives.WriteUInt32LittleEndian(binary.AsSpan(at), FramingArg % 3 == 0 ? uint.MaxValue : FramingArg >> 4);
                }

                break;
            case 6: // a JSON request sent with the binary header, so the whole body is the JSON part
                headerLength ??= json.Length;
                break;
            case 7: // a binary request without the header
                headerLength = null;
                break;
        }

        return ([.. json, .. binary], headerLength?.ToString(CultureInfo.InvariantCulture));
    }

    public override string ToString()
    {
        var (body, length) = Build();
        var text = Encoding.UTF8.GetString(body);
        return $"model {Source.Model}, seed #{Seed}, mutations [{string.Join(", ", Mutations)}], framing {FramingOp}/{FramingArg}, " +
            $"Inference-Header-Content-Length: {length ?? "(none)"}, body ({body.Length} bytes): {(text.Length > 2000 ? text[..2000] + "…" : text)}";
    }

    /// <summary>
    /// The in-process property: splitting and parsing end in null (parsed) or an error message,
    /// never an exception; what a parse allocates is bounded by the body (at most 8 bytes of
    /// tensor per 2 bytes of JSON, pooled arrays rounded up; System.Text.Json's own exception
    /// message can quote the rest of the body as UTF-16: 64 KiB + 16 x the body); a parsed
    /// request's tensors hold exactly shape x element size bytes of a shape the model accepts.
    /// </summary>
    public static string Check(InferCase c) => Check(c.Source.Model, c.Build());

    public static string Check(string modelName, (byte[] Body, string? HeaderLength) input)
    {
        var (body, headerLength) = input;
        var model = InferSeeds.Models[modelName];
        var request = new InferRequest();
        request.Start(model);
        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, 1));
        body.CopyTo(rented, 0);
        request.SetBody(rented, body.Length);
        var http = new DefaultHttpContext();
        if (headerLength is not null)
        {
            http.Request.Headers[InferHandler.HeaderContentLength] = headerLength;
        }

        try
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            if (!InferHandler.TrySplitBody(http, request, out var header, out var binary, out var hasBinaryHeader, out var splitError))
            {
                return Require(splitError, "split");
            }

            var error = InferRequestParser.Parse(request, header, binary, hasBinaryHeader) ?? InferHandler.CheckPriority(request, model);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > (64 * 1024) + (16L * body.Length))
            {
                throw new InvalidOperationException($"parsing a {body.Length}-byte body allocated {allocated} bytes ({error ?? "parsed"})");
            }

            if (error is not null)
            {
                return Require(error, "parse");
            }

            CheckTensors(request, model.Signature);
            return "parsed";
        }
        finally
        {
            request.Reset();
        }
    }

    private static string Require(string error, string stage) =>
        string.IsNullOrWhiteSpace(error) ? throw new InvalidOperationException($"{stage} failed with an empty message") : error;

    private static void CheckTensors(InferRequest request, ModelSignature signature)
    {
        var tensors = request.BuildTensors();
        for (var i = 0; i < tensors.Length; i++)
        {
            var tensor = tensors[i];
            if (!tensor.Shape.Matches(signature.Inputs[i].Shape) || tensor.DataType != signature.Inputs[i].DataType)
            {
                throw new InvalidOperationException($"input {i} parsed as {tensor.DataType.Name()} {tensor.Shape}, which the model's {signature.Inputs[i]} does not accept");
            }

            if (!tensor.Shape.TryGetElementCount(long.MaxValue, out var elements))
            {
                throw new InvalidOperationException($"input {i}: shape {tensor.Shape} has no element count");
            }

            if (tensor.DataType != DataType.Bytes && tensor.Data.Length != elements * tensor.DataType.ElementSize())
            {
                throw new InvalidOperationException($"input {i}: {tensor.Data.Length} bytes for {tensor.DataType.Name()} {tensor.Shape}");
            }
        }
    }
}
