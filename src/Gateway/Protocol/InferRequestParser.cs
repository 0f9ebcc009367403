using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Gateway.Abstractions;

namespace Gateway.Protocol;

/// <summary>
/// Parses a V2 infer request (JSON, optionally followed by Triton binary tensor data) straight
/// into an <see cref="InferRequest"/>, checking every input against the model's signature before
/// anything is queued. Names are matched as UTF-8 against the signature, so a well-formed request
/// allocates nothing here; errors name the tensor and what was expected.
/// </summary>
internal static class InferRequestParser
{
    private const int MaxNameBytes = 1024;

    private static readonly JsonReaderOptions s_readerOptions = new()
    {
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        MaxDepth = 64,
    };

    /// <summary>
    /// Parses <paramref name="header"/> (the JSON part) with <paramref name="binary"/> holding the
    /// binary tensor data that followed it. Returns null on success, else the error message (400).
    /// </summary>
    public static string? Parse(InferRequest request, ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> binary, bool hasBinaryHeader)
    {
        try
        {
            var reader = new Utf8JsonReader(header.Span, s_readerOptions);
            var state = new ParseState { Binary = binary, HasBinaryHeader = hasBinaryHeader, JsonLength = header.Length };
            var error = ParseRoot(ref reader, request, ref state, header);
            if (error is not null)
            {
                return error;
            }

            return Complete(request, ref state);
        }
        catch (JsonException ex)
        {
            return MalformedJson(ex);
        }
    }

    /// <summary>The reader's message, shortened: for some errors it quotes the rest of the body.</summary>
    public const int MaxReaderMessage = 300;

    /// <remarks>
    /// System.Text.Json quotes the text after an invalid escape up to the end of the input: a
    /// 12 MB body made a 12 MB error (and 14 MB of allocation per 600 KB body); found by fuzzing.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string MalformedJson(JsonException ex) =>
        "malformed JSON: " + (ex.Message.Length <= MaxReaderMessage ? ex.Message : string.Concat(ex.Message.AsSpan(0, MaxReaderMessage), "…"));

    private struct ParseState
    {
        public ReadOnlyMemory<byte> Binary;
        public int BinaryOffset;
        public bool HasBinaryHeader;
        public bool SawInputs;
        public bool SawOutputs;
        public bool SawParameters;

        /// <summary>Length of the JSON part: what is left of it bounds what its data can hold.</summary>
        public int JsonLength;
    }

    private static string? ParseRoot(ref Utf8JsonReader reader, InferRequest request, ref ParseState state, ReadOnlyMemory<byte> header)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return "the request body must be a JSON object";
        }

        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                // Anything after the object (other than whitespace) is malformed.
                if (reader.Read())
                {
                    return "unexpected data after the request's JSON object";
                }

                return null;
            }

            if (JsonText.Problem(ref reader) is { } bad)
            {
                return "a member name of the request object " + NotText(bad);
            }

            if (reader.ValueTextEquals("inputs"u8))
            {
                if (state.SawInputs)
                {
                    return "'inputs' is given twice";
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    return "'inputs' must be an array";
                }

                state.SawInputs = true;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return "each entry of 'inputs' must be an object";
                    }

                    var error = ParseInput(ref reader, request, ref state);
                    if (error is not null)
                    {
                        return error;
                    }
                }
            }
            else if (reader.ValueTextEquals("outputs"u8))
            {
                if (state.SawOutputs)
                {
                    return "'outputs' is given twice";
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    return "'outputs' must be an array";
                }

                state.SawOutputs = true;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        return "each entry of 'outputs' must be an object";
                    }

                    var error = ParseOutput(ref reader, request);
                    if (error is not null)
                    {
                        return error;
                    }
                }
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                if (request.HasId)
                {
                    return "'id' is given twice";
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    return $"'id' must be a string (got {JsonText.Describe(ref reader)})";
                }

                if (JsonText.Problem(ref reader) is { } badId)
                {
                    return "'id' " + NotText(badId);
                }

                request.HasId = true;
                request.Id = reader.ValueIsEscaped ? Unescape(ref reader, request) : header.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
            }
            else if (reader.ValueTextEquals("parameters"u8))
            {
                if (state.SawParameters)
                {
                    return "'parameters' is given twice";
                }

                state.SawParameters = true;
                reader.Read();
                var error = ParseRequestParameters(ref reader, request);
                if (error is not null)
                {
                    return error;
                }
            }
            else
            {
                // Unknown top-level members are allowed by the protocol; skip their values.
                reader.Read();
                reader.Skip();
            }
        }

        return "the request's JSON object is not closed";
    }

    private static ReadOnlyMemory<byte> Unescape(ref Utf8JsonReader reader, InferRequest request)
    {
        var buffer = request.Rent(reader.ValueSpan.Length);
        var written = reader.CopyString(buffer);
        return buffer.AsMemory(0, written);
    }

    private static string? ParseRequestParameters(ref Utf8JsonReader reader, InferRequest request)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return $"'parameters' must be an object (got {JsonText.Describe(ref reader)})";
        }

        bool sawBinaryOutput = false, sawPriority = false, sawTimeout = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (JsonText.Problem(ref reader) is { } bad)
            {
                return "a member name of the request's 'parameters' " + NotText(bad);
            }

            if (reader.ValueTextEquals("binary_data_output"u8))
            {
                if (sawBinaryOutput)
                {
                    return "parameter 'binary_data_output' is given twice";
                }

                sawBinaryOutput = true;
                reader.Read();
                if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
                {
                    return $"parameter 'binary_data_output' must be true or false (got {JsonText.Describe(ref reader)})";
                }

                request.BinaryDataOutput = reader.GetBoolean();
            }
            else if (reader.ValueTextEquals("priority"u8))
            {
                if (sawPriority)
                {
                    return "parameter 'priority' is given twice";
                }

                sawPriority = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt32(out var priority))
                {
                    return $"parameter 'priority' must be a non-negative integer (got {JsonText.Describe(ref reader)})";
                }

                request.Priority = priority;
            }
            else if (reader.ValueTextEquals("timeout"u8))
            {
                if (sawTimeout)
                {
                    return "parameter 'timeout' is given twice";
                }

                sawTimeout = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out var timeout) || timeout > InferRequest.MaxTimeoutMicroseconds)
                {
                    return $"parameter 'timeout' must be from 0 to {InferRequest.MaxTimeoutMicroseconds} microseconds, the longest a timer waits (got {JsonText.Describe(ref reader)})";
                }

                request.TimeoutMicroseconds = timeout;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return null;
    }

    private static string? ParseOutput(ref Utf8JsonReader reader, InferRequest request)
    {
        var signature = request.Model.Signature;
        var index = -1;
        var nameSeen = false;
        var parametersSeen = false;
        bool? binary = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (JsonText.Problem(ref reader) is { } bad)
            {
                return $"{DescribeOutput(signature, index)}: a member name " + NotText(bad);
            }

            if (reader.ValueTextEquals("name"u8))
            {
                if (nameSeen)
                {
                    return $"{DescribeOutput(signature, index)}: 'name' is given twice";
                }

                nameSeen = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    return $"an output's 'name' must be a string (got {JsonText.Describe(ref reader)})";
                }

                if (JsonText.Problem(ref reader) is { } badName)
                {
                    return "an output's 'name' " + NotText(badName);
                }

                index = FindByName(ref reader, isInput: false, signature);
                if (index < 0)
                {
                    return $"unknown output '{JsonText.Text(ref reader)}' (the model's outputs: {OutputNames(signature)})";
                }
            }
            else if (reader.ValueTextEquals("parameters"u8))
            {
                if (parametersSeen)
                {
                    return $"{DescribeOutput(signature, index)}: 'parameters' is given twice";
                }

                parametersSeen = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return $"{DescribeOutput(signature, index)}: 'parameters' must be an object (got {JsonText.Describe(ref reader)})";
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    if (JsonText.Problem(ref reader) is { } badParameter)
                    {
                        return $"{DescribeOutput(signature, index)}: a member name of 'parameters' " + NotText(badParameter);
                    }

                    if (reader.ValueTextEquals("binary_data"u8))
                    {
                        if (binary is not null)
                        {
                            return $"{DescribeOutput(signature, index)}: parameter 'binary_data' is given twice";
                        }

                        reader.Read();
                        if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
                        {
                            return $"{DescribeOutput(signature, index)}: parameter 'binary_data' must be true or false (got {JsonText.Describe(ref reader)})";
                        }

                        binary = reader.GetBoolean();
                    }
                    else if (reader.ValueTextEquals("classification"u8))
                    {
                        return "output parameter 'classification' is not supported by this server";
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (index < 0)
        {
            return "an entry of 'outputs' has no 'name'";
        }

        for (var i = 0; i < request.OutputCount; i++)
        {
            if (request.Outputs[i] == index)
            {
                return $"output '{signature.Outputs[index].Name}' is requested twice";
            }
        }

        // A per-output choice wins; otherwise the request-level default applies, which may come
        // later in the body, so it is resolved in Complete.
        request.Outputs[request.OutputCount] = index;
        request.OutputBinaryChoice[request.OutputCount] = binary switch
        {
            true => BinaryChoice.Binary,
            false => BinaryChoice.Json,
            null => BinaryChoice.Default,
        };
        request.OutputCount++;
        return null;
    }

    private static string? ParseInput(ref Utf8JsonReader reader, InferRequest request, ref ParseState state)
    {
        var signature = request.Model.Signature;
        var index = -1;
        var nameSeen = false;
        var type = DataType.Invalid;
        var typeSeen = false;
        var shape = default(TensorShape);
        var shapeSeen = false;
        long binarySize = -1;
        var dataReader = default(Utf8JsonReader);
        var dataSeen = false;
        var dataParsed = false;
        var parametersSeen = false;
        string? error;

        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (JsonText.Problem(ref reader) is { } bad)
            {
                return $"input {Describe(signature, index)}: a member name " + NotText(bad);
            }

            if (reader.ValueTextEquals("name"u8))
            {
                if (nameSeen)
                {
                    return $"input {Describe(signature, index)}: 'name' is given twice";
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    return $"an input's 'name' must be a string (got {JsonText.Describe(ref reader)})";
                }

                if (JsonText.Problem(ref reader) is { } badName)
                {
                    return "an input's 'name' " + NotText(badName);
                }

                nameSeen = true;
                index = FindByName(ref reader, isInput: true, signature);
                if (index < 0)
                {
                    return $"unknown input '{JsonText.Text(ref reader)}' (the model's inputs: {InputNames(signature)})";
                }

                if (request.Inputs[index].Present)
                {
                    return $"input '{signature.Inputs[index].Name}' is given twice";
                }
            }
            else if (reader.ValueTextEquals("datatype"u8))
            {
                if (typeSeen)
                {
                    return $"input {Describe(signature, index)}: 'datatype' is given twice";
                }

                reader.Read();
                if (reader.TokenType != JsonTokenType.String)
                {
                    return $"input {Describe(signature, index)}: 'datatype' must be a string, one of {DataTypeNames} (got {JsonText.Describe(ref reader)})";
                }

                if (JsonText.Problem(ref reader) is { } badType)
                {
                    return $"input {Describe(signature, index)}: 'datatype' " + NotText(badType);
                }

                if (!TryReadDataType(ref reader, out type))
                {
                    return $"input {Describe(signature, index)}: 'datatype' must be one of {DataTypeNames} (got {JsonText.Describe(ref reader)})";
                }

                typeSeen = true;
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                if (shapeSeen)
                {
                    return $"input {Describe(signature, index)}: 'shape' is given twice";
                }

                reader.Read();
                error = ReadShape(ref reader, ref shape, signature, index);
                if (error is not null)
                {
                    return error;
                }

                shapeSeen = true;
            }
            else if (reader.ValueTextEquals("parameters"u8))
            {
                if (parametersSeen)
                {
                    return $"input {Describe(signature, index)}: 'parameters' is given twice";
                }

                parametersSeen = true;
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return $"input {Describe(signature, index)}: 'parameters' must be an object (got {JsonText.Describe(ref reader)})";
                }

                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    if (JsonText.Problem(ref reader) is { } badParameter)
                    {
                        return $"input {Describe(signature, index)}: a member name of 'parameters' " + NotText(badParameter);
                    }

                    if (reader.ValueTextEquals("binary_data_size"u8))
                    {
                        if (binarySize >= 0)
                        {
                            return $"input {Describe(signature, index)}: parameter 'binary_data_size' is given twice";
                        }

                        reader.Read();
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out binarySize) || binarySize < 0)
                        {
                            return $"input {Describe(signature, index)}: 'binary_data_size' must be a non-negative integer (got {JsonText.Describe(ref reader)})";
                        }
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                if (dataSeen)
                {
                    return $"input {Describe(signature, index)}: 'data' is given twice";
                }

                reader.Read();
                dataSeen = true;
                if (nameSeen && typeSeen && shapeSeen && binarySize < 0)
                {
                    // PERF: the usual member order (name, datatype, shape, data) parses in one pass.
                    error = Validate(request, index, type, shape, out var count);
                    if (error is not null)
                    {
                        return error;
                    }

                    error = ReadData(ref reader, request, index, type, shape, count, state.JsonLength);
                    if (error is not null)
                    {
                        return error;
                    }

                    dataParsed = true;
                }
                else
                {
                    // Members came in another order: remember where the data is, parse it at the end.
                    dataReader = reader;
                    reader.Skip();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (!nameSeen)
        {
            return "an entry of 'inputs' has no 'name'";
        }

        if (!typeSeen)
        {
            return $"input '{signature.Inputs[index].Name}' has no 'datatype' (the model expects {signature.Inputs[index].DataType.Name()})";
        }

        if (!shapeSeen)
        {
            return $"input '{signature.Inputs[index].Name}' has no 'shape' (the model expects {signature.Inputs[index].Shape})";
        }

        if (dataParsed)
        {
            return binarySize >= 0 ? $"input '{signature.Inputs[index].Name}' has both 'data' and 'binary_data_size'; give one" : null;
        }

        error = Validate(request, index, type, shape, out var elements);
        if (error is not null)
        {
            return error;
        }

        var name = signature.Inputs[index].Name;
        if (binarySize >= 0)
        {
            if (dataSeen)
            {
                return $"input '{name}' has both 'data' and 'binary_data_size'; give one";
            }

            return TakeBinary(request, ref state, index, type, shape, elements, binarySize);
        }

        if (!dataSeen)
        {
            return $"input '{name}' has neither 'data' nor a 'binary_data_size' parameter";
        }

        return ReadData(ref dataReader, request, index, type, shape, elements, state.JsonLength);
    }

    private static string? ReadShape(ref Utf8JsonReader reader, ref TensorShape shape, ModelSignature signature, int index)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return $"input {Describe(signature, index)}: 'shape' must be an array of integers";
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var dim) || dim < 0)
            {
                return $"input {Describe(signature, index)}: 'shape' must hold non-negative integers";
            }

            if (!shape.TryAdd(dim))
            {
                return $"input {Describe(signature, index)}: 'shape' has more than {TensorShape.MaxRank} dimensions";
            }
        }

        return null;
    }

    /// <summary>Checks an input's datatype and shape against the model and counts its elements.</summary>
    internal static string? Validate(InferRequest request, int index, DataType type, in TensorShape shape, out long elements)
    {
        elements = 0;
        var spec = request.Model.Signature.Inputs[index];
        if (type != spec.DataType)
        {
            return $"input '{spec.Name}': datatype {type.Name()} does not match the model's {spec.DataType.Name()}";
        }

        if (!shape.Matches(spec.Shape))
        {
            return $"input '{spec.Name}': shape {shape} does not match the model's {spec.Shape}";
        }

        var maxBatch = request.Model.MaxBatchSize;
        if (maxBatch > 0 && shape[0] > maxBatch)
        {
            return $"input '{spec.Name}': batch size {shape[0]} exceeds the model's max_batch_size {maxBatch}";
        }

        var size = type == DataType.Bytes ? 4 : type.ElementSize();
        if (!shape.TryGetElementCount(int.MaxValue / size, out elements))
        {
            return $"input '{spec.Name}': shape {shape} has too many elements (more than {int.MaxValue / size})";
        }

        return null;
    }

    private static string? TakeBinary(InferRequest request, ref ParseState state, int index, DataType type, in TensorShape shape, long elements, long size)
    {
        var name = request.Model.Signature.Inputs[index].Name;
        if (!state.HasBinaryHeader)
        {
            return $"input '{name}' gives 'binary_data_size' but the request has no Inference-Header-Content-Length header";
        }

        var remaining = state.Binary.Length - state.BinaryOffset;
        if (size > remaining)
        {
            return $"input '{name}': binary_data_size {size} runs past the end of the binary data ({remaining} bytes left)";
        }

        var data = state.Binary.Slice(state.BinaryOffset, (int)size);
        if (type == DataType.Bytes)
        {
            var error = CheckBytesFraming(name, data.Span, elements);
            if (error is not null)
            {
                return error;
            }
        }
        else
        {
            var expected = elements * type.ElementSize();
            if (size != expected)
            {
                return $"input '{name}': binary_data_size is {size} bytes, but {type.Name()} {shape} needs {expected}";
            }
        }

        state.BinaryOffset += (int)size;
        ref var slot = ref request.Inputs[index];
        slot.Present = true;
        slot.DataType = type;
        slot.Shape = shape;
        slot.Data = data;
        return null;
    }

    /// <summary>Checks that BYTES data holds exactly <paramref name="elements"/> length-prefixed elements.</summary>
    internal static string? CheckBytesFraming(string name, ReadOnlySpan<byte> data, long elements)
    {
        var offset = 0;
        for (long e = 0; e < elements; e++)
        {
            if (data.Length - offset < 4)
            {
                return $"input '{name}': BYTES data ends inside the length of element {e} ({elements} expected)";
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);
            if (length > (uint)(data.Length - offset - 4))
            {
                return $"input '{name}': BYTES element {e} claims {length} bytes, past the end of the data";
            }

            offset += 4 + (int)length;
        }

        if (offset != data.Length)
        {
            return $"input '{name}': BYTES data holds {data.Length - offset} bytes beyond the {elements} element(s) of its shape";
        }

        return null;
    }

    private static string? ReadData(ref Utf8JsonReader reader, InferRequest request, int index, DataType type, in TensorShape shape, long elements, int jsonLength)
    {
        var name = request.Model.Signature.Inputs[index].Name;
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return $"input '{name}': 'data' must be an array (got {JsonText.Describe(ref reader)})";
        }

        // Memory follows the data, not the claim: every element takes at least two bytes of the
        // JSON left from here ("1," ... "1]"), so no more elements than that can arrive. A small
        // body claiming a huge shape gets a buffer for what it holds, and then the count error.
        var fits = (jsonLength - reader.TokenStartIndex - 1) / 2;
        var capacity = Math.Min(elements, fits);

        ReadOnlyMemory<byte> data;
        long count;
        DataStatus status;
        string? why = null;
        if (type == DataType.Bytes)
        {
            status = ReadBytesData(ref reader, request, elements, capacity, out data, out count, out why);
        }
        else
        {
            var length = (int)(capacity * type.ElementSize());
            var buffer = request.Rent(length);
            var destination = buffer.AsSpan(0, length);
            status = type switch
            {
                DataType.Bool => ReadArray<byte, BoolReader>(ref reader, destination, out count),
                DataType.UInt8 => ReadArray<byte, UInt8Reader>(ref reader, destination, out count),
                DataType.Int8 => ReadArray<sbyte, Int8Reader>(ref reader, destination, out count),
                DataType.UInt16 => ReadArray<ushort, UInt16Reader>(ref reader, destination, out count),
                DataType.Int16 => ReadArray<short, Int16Reader>(ref reader, destination, out count),
                DataType.UInt32 => ReadArray<uint, UInt32Reader>(ref reader, destination, out count),
                DataType.Int32 => ReadArray<int, Int32Reader>(ref reader, destination, out count),
                DataType.UInt64 => ReadArray<ulong, UInt64Reader>(ref reader, destination, out count),
                DataType.Int64 => ReadArray<long, Int64Reader>(ref reader, destination, out count),
                DataType.FP16 => ReadArray<Half, FP16Reader>(ref reader, destination, out count),
                DataType.BF16 => ReadArray<ushort, BF16Reader>(ref reader, destination, out count),
                DataType.FP32 => ReadArray<float, FP32Reader>(ref reader, destination, out count),
                DataType.FP64 => ReadArray<double, FP64Reader>(ref reader, destination, out count),
                _ => throw new UnreachableException(),
            };
            data = buffer.AsMemory(0, length);
        }

        switch (status)
        {
            case DataStatus.TooMany:
                return $"input '{name}': 'data' has more than the {elements} element(s) that shape {shape} needs";
            case DataStatus.BadElement:
                return why is null
                    ? $"input '{name}': element {count} of 'data' is not a valid {type.Name()} value"
                    : $"input '{name}': element {count} of 'data' is not a valid {type.Name()} value: {why}";
        }

        if (count != elements)
        {
            return $"input '{name}': 'data' has {count} element(s), but shape {shape} needs {elements}";
        }

        ref var slot = ref request.Inputs[index];
        slot.Present = true;
        slot.DataType = type;
        slot.Shape = shape;
        slot.Data = data;
        return null;
    }

    private enum DataStatus
    {
        Ok,
        TooMany,
        BadElement,
    }

    /// <summary>
    /// Reads a (possibly nested) array of numbers into <paramref name="destination"/>, row-major.
    /// Nesting is flattened: only the element count is checked against the shape.
    /// </summary>
    private static DataStatus ReadArray<T, TReader>(ref Utf8JsonReader reader, Span<byte> destination, out long count)
        where T : unmanaged
        where TReader : IJsonElementReader<T>
    {
        var values = MemoryMarshal.Cast<byte, T>(destination);
        count = 0;
        var depth = 0;
        do
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndArray:
                    depth--;
                    break;
                default:
                    if (count >= values.Length)
                    {
                        return DataStatus.TooMany;
                    }

                    if (!TReader.TryRead(ref reader, out values[(int)count]))
                    {
                        return DataStatus.BadElement;
                    }

                    count++;
                    break;
            }
        }
        while (depth > 0 && reader.Read());

        return DataStatus.Ok;
    }

    private static DataStatus ReadBytesData(ref Utf8JsonReader reader, InferRequest request, long elements, long capacity, out ReadOnlyMemory<byte> data, out long count, out string? why)
    {
        // The serialised size is unknown until the strings are read: start from the lengths of
        // the elements that can arrive and grow as strings do.
        var buffer = request.Rent((int)Math.Min(16 + (capacity * 4), Array.MaxLength));
        var offset = 0;
        count = 0;
        data = default;
        why = null;
        var depth = 0;
        do
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndArray:
                    depth--;
                    break;
                case JsonTokenType.String:
                    if (count >= elements)
                    {
                        return DataStatus.TooMany;
                    }

                    if (JsonText.Problem(ref reader) is { } bad)
                    {
                        why = bad;
                        return DataStatus.BadElement;
                    }

                    var needed = offset + 4 + reader.ValueSpan.Length;
                    if (needed > buffer.Length)
                    {
                        var larger = request.Rent(Math.Max(needed, buffer.Length * 2));
                        buffer.AsSpan(0, offset).CopyTo(larger);
                        buffer = larger;
                    }

                    var written = reader.ValueIsEscaped
                        ? reader.CopyString(buffer.AsSpan(offset + 4))
                        : CopyRaw(reader.ValueSpan, buffer.AsSpan(offset + 4));
                    BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset), (uint)written);
                    offset += 4 + written;
                    count++;
                    break;
                default:
                    return DataStatus.BadElement;
            }
        }
        while (depth > 0 && reader.Read());

        data = buffer.AsMemory(0, offset);
        return DataStatus.Ok;
    }

    private static int CopyRaw(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        source.CopyTo(destination);
        return source.Length;
    }

    private static int FindByName(ref Utf8JsonReader reader, bool isInput, ModelSignature signature)
    {
        if (!reader.ValueIsEscaped)
        {
            return isInput ? signature.FindInput(reader.ValueSpan) : signature.FindOutput(reader.ValueSpan);
        }

        if (reader.ValueSpan.Length > MaxNameBytes)
        {
            return -1;
        }

        Span<byte> name = stackalloc byte[MaxNameBytes];
        var length = reader.CopyString(name);
        return isInput ? signature.FindInput(name[..length]) : signature.FindOutput(name[..length]);
    }

    /// <summary>
    /// Every input of the signature given, and (batched models) all with the same batch size:
    /// the checks after the inputs are read, shared by REST and gRPC. Null when so, else why not.
    /// </summary>
    internal static string? CheckInputsComplete(InferRequest request)
    {
        var signature = request.Model.Signature;
        for (var i = 0; i < signature.Inputs.Count; i++)
        {
            if (!request.Inputs[i].Present)
            {
                return $"missing input '{signature.Inputs[i].Name}' ({signature.Inputs[i].DataType.Name()} {signature.Inputs[i].Shape})";
            }
        }

        // Batched models: every input must agree on the batch dimension.
        if (request.Model.MaxBatchSize > 0)
        {
            var rows = request.Inputs[0].Shape[0];
            for (var i = 1; i < signature.Inputs.Count; i++)
            {
                if (request.Inputs[i].Shape[0] != rows)
                {
                    return $"input '{signature.Inputs[i].Name}' has batch size {request.Inputs[i].Shape[0]}, but input '{signature.Inputs[0].Name}' has {rows}";
                }
            }
        }

        return null;
    }

    private static string? Complete(InferRequest request, ref ParseState state)
    {
        if (!state.SawInputs)
        {
            return "the request has no 'inputs'";
        }

        var missing = CheckInputsComplete(request);
        if (missing is not null)
        {
            return missing;
        }

        if (state.HasBinaryHeader && state.BinaryOffset != state.Binary.Length)
        {
            return $"the binary data holds {state.Binary.Length - state.BinaryOffset} byte(s) that no input claims";
        }

        if (!state.SawOutputs || request.OutputCount == 0)
        {
            var all = request.Model.AllOutputs;
            for (var i = 0; i < all.Length; i++)
            {
                request.Outputs[i] = all[i];
                request.OutputBinary[i] = request.BinaryDataOutput;
            }

            request.OutputCount = all.Length;
        }
        else
        {
            for (var i = 0; i < request.OutputCount; i++)
            {
                request.OutputBinary[i] = request.OutputBinaryChoice[i] switch
                {
                    BinaryChoice.Binary => true,
                    BinaryChoice.Json => false,
                    _ => request.BinaryDataOutput,
                };
            }
        }

        return null;
    }

    private static string Describe(ModelSignature signature, int index) =>
        index >= 0 ? $"'{signature.Inputs[index].Name}'" : "(unnamed)";

    private static string DescribeOutput(ModelSignature signature, int index) =>
        index >= 0 ? $"output '{signature.Outputs[index].Name}'" : "an entry of 'outputs'";

    private const string DataTypeNames = "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES";

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string NotText(string why) => "is not valid text: " + why;

    /// <summary>A datatype name; escaped text ("FP\u0033\u0032") is unescaped first, as names are.</summary>
    private static bool TryReadDataType(ref Utf8JsonReader reader, out DataType type)
    {
        if (!reader.ValueIsEscaped)
        {
            return DataTypes.TryParse(reader.ValueSpan, out type);
        }

        type = DataType.Invalid;
        if (reader.ValueSpan.Length > 64)
        {
            return false;
        }

        Span<byte> text = stackalloc byte[64];
        var length = reader.CopyString(text);
        return DataTypes.TryParse(text[..length], out type);
    }

    internal static string InputNames(ModelSignature signature)
    {
        var builder = new StringBuilder();
        foreach (var input in signature.Inputs)
        {
            builder.Append(builder.Length > 0 ? ", " : string.Empty).Append(input.Name);
        }

        return builder.ToString();
    }

    internal static string OutputNames(ModelSignature signature)
    {
        var builder = new StringBuilder();
        foreach (var output in signature.Outputs)
        {
            builder.Append(builder.Length > 0 ? ", " : string.Empty).Append(output.Name);
        }

        return builder.ToString();
    }
}
