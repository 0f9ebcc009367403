using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Gateway.Abstractions;
using Gateway.Grpc.V2;
using Gateway.Protocol;
using Google.Protobuf;
using Google.Protobuf.Collections;

namespace Gateway.Grpc;

/// <summary>
/// Fills an <see cref="InferRequest"/> from a gRPC <see cref="ModelInferRequest"/>, with the same
/// checks against the model's signature as the REST parser (<see cref="InferRequestParser"/>), so
/// that bad input ends here, before anything is queued. <c>raw_input_contents</c> are used in
/// place (views into the message's byte strings); typed <c>contents</c> are copied once into
/// arrays rented for the request.
/// </summary>
internal static class GrpcRequestReader
{
    /// <summary>Returns null on success, else the message for <c>INVALID_ARGUMENT</c>.</summary>
    public static string? Read(ModelInferRequest message, InferRequest request)
    {
        var error = ReadParameters(message.Parameters, request);
        if (error is not null)
        {
            return error;
        }

        var inputs = message.Inputs;
        if (inputs.Count == 0)
        {
            return "the request has no 'inputs'";
        }

        var raw = message.RawInputContents;
        if (raw.Count > 0 && raw.Count != inputs.Count)
        {
            return $"raw_input_contents has {raw.Count} entries for {inputs.Count} inputs; give one per input, in the order of 'inputs'";
        }

        for (var i = 0; i < inputs.Count; i++)
        {
            error = ReadInput(inputs[i], raw.Count > 0 ? raw[i] : null, request);
            if (error is not null)
            {
                return error;
            }
        }

        error = InferRequestParser.CheckInputsComplete(request);
        if (error is not null)
        {
            return error;
        }

        return ReadOutputs(message.Outputs, request);
    }

    private static string? ReadParameters(MapField<string, InferParameter> parameters, InferRequest request)
    {
        foreach (var (key, value) in parameters)
        {
            switch (key)
            {
                case "priority":
                    if (value.ParameterChoiceCase != InferParameter.ParameterChoiceOneofCase.Int64Param || value.Int64Param is < 0 or > uint.MaxValue)
                    {
                        return $"parameter 'priority' must be an int64_param from 0 to {uint.MaxValue}";
                    }

                    request.Priority = (uint)value.Int64Param;
                    break;
                case "timeout":
                    if (value.ParameterChoiceCase != InferParameter.ParameterChoiceOneofCase.Int64Param
                        || value.Int64Param < 0 || (ulong)value.Int64Param > InferRequest.MaxTimeoutMicroseconds)
                    {
                        return $"parameter 'timeout' must be an int64_param from 0 to {InferRequest.MaxTimeoutMicroseconds} microseconds";
                    }

                    request.TimeoutMicroseconds = (ulong)value.Int64Param;
                    break;
                case "classification":
                    return "parameter 'classification' is not supported by this server";
                default:
                    // As REST: parameters the server does not know (binary_data_output, sequence ids
                    // a client library always sends) are ignored.
                    break;
            }
        }

        return null;
    }

    private static string? ReadInput(ModelInferRequest.Types.InferInputTensor input, ByteString? raw, InferRequest request)
    {
        var signature = request.Model.Signature;
        var index = signature.FindInput(input.Name);
        if (index < 0)
        {
            return $"unknown input '{input.Name}' (the model's inputs: {InferRequestParser.InputNames(signature)})";
        }

        var name = signature.Inputs[index].Name;
        if (request.Inputs[index].Present)
        {
            return $"input '{name}' is given twice";
        }

        if (!DataTypes.TryParse(input.Datatype, out var type))
        {
            return $"input '{name}': unknown datatype '{input.Datatype}'";
        }

        var shape = default(TensorShape);
        foreach (var dim in input.Shape)
        {
            if (dim < 0)
            {
                return $"input '{name}': 'shape' must hold non-negative integers";
            }

            if (!shape.TryAdd(dim))
            {
                return $"input '{name}': 'shape' has more than {TensorShape.MaxRank} dimensions";
            }
        }

        var error = InferRequestParser.Validate(request, index, type, shape, out var elements);
        if (error is not null)
        {
            return error;
        }

        ReadOnlyMemory<byte> data;
        if (raw is not null)
        {
            if (input.Contents is not null)
            {
                return $"input '{name}' has 'contents' but the request uses raw_input_contents; give one form for every input";
            }

            data = raw.Memory;
            if (type == DataType.Bytes)
            {
                error = InferRequestParser.CheckBytesFraming(name, data.Span, elements);
                if (error is not null)
                {
                    return error;
                }
            }
            else if (data.Length != elements * type.ElementSize())
            {
                return $"input '{name}': raw_input_contents holds {data.Length} bytes, but {type.Name()} {shape} needs {elements * type.ElementSize()}";
            }
        }
        else if (input.Contents is null)
        {
            return $"input '{name}' has no 'contents' and the request has no raw_input_contents";
        }
        else
        {
            error = ReadContents(input.Contents, request, name, type, elements, out data);
            if (error is not null)
            {
                return error;
            }
        }

        ref var slot = ref request.Inputs[index];
        slot.Present = true;
        slot.DataType = type;
        slot.Shape = shape;
        slot.Data = data;
        return null;
    }

    /// <summary>Copies typed contents into a rented array in the tensor's little-endian layout.</summary>
    private static string? ReadContents(InferTensorContents contents, InferRequest request, string name, DataType type, long elements, out ReadOnlyMemory<byte> data)
    {
        data = default;
        var count = type switch
        {
            DataType.Bool => contents.BoolContents.Count,
            DataType.Int8 or DataType.Int16 or DataType.Int32 => contents.IntContents.Count,
            DataType.Int64 => contents.Int64Contents.Count,
            DataType.UInt8 or DataType.UInt16 or DataType.UInt32 => contents.UintContents.Count,
            DataType.UInt64 => contents.Uint64Contents.Count,
            DataType.FP32 => contents.Fp32Contents.Count,
            DataType.FP64 => contents.Fp64Contents.Count,
            DataType.Bytes => contents.BytesContents.Count,
            _ => -1,
        };
        if (count < 0)
        {
            return $"input '{name}': {type.Name()} has no typed contents field; send it in raw_input_contents";
        }

        if (count != elements)
        {
            return $"input '{name}': its shape holds {elements} element(s), but {FieldName(type)} has {count}";
        }

        if (type == DataType.Bytes)
        {
            long size = 0;
            foreach (var element in contents.BytesContents)
            {
                size += 4 + element.Length;
            }

            if (size > int.MaxValue)
            {
                return $"input '{name}': BYTES contents are larger than {int.MaxValue} bytes";
            }

            var framed = request.Rent((int)size);
            var offset = 0;
            foreach (var element in contents.BytesContents)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(framed.AsSpan(offset), (uint)element.Length);
                element.Span.CopyTo(framed.AsSpan(offset + 4));
                offset += 4 + element.Length;
            }

            data = framed.AsMemory(0, offset);
            return null;
        }

        var length = (int)(elements * type.ElementSize());
        var array = request.Rent(length);
        var span = array.AsSpan(0, length);
        switch (type)
        {
            case DataType.Bool:
                for (var i = 0; i < count; i++)
                {
                    span[i] = contents.BoolContents[i] ? (byte)1 : (byte)0;
                }

                break;
            case DataType.Int8:
                for (var i = 0; i < count; i++)
                {
                    var v = contents.IntContents[i];
                    if (v is < sbyte.MinValue or > sbyte.MaxValue)
                    {
                        return OutOfRange(name, type, i, v);
                    }

                    span[i] = (byte)(sbyte)v;
                }

                break;
            case DataType.Int16:
                for (var i = 0; i < count; i++)
                {
                    var v = contents.IntContents[i];
                    if (v is < short.MinValue or > short.MaxValue)
                    {
                        return OutOfRange(name, type, i, v);
                    }

                    BinaryPrimitives.WriteInt16LittleEndian(span[(i * 2)..], (short)v);
                }

                break;
            case DataType.Int32:
                Copy(contents.IntContents, MemoryMarshal.Cast<byte, int>(span));
                break;
            case DataType.Int64:
                Copy(contents.Int64Contents, MemoryMarshal.Cast<byte, long>(span));
                break;
            case DataType.UInt8:
                for (var i = 0; i < count; i++)
                {
                    var v = contents.UintContents[i];
                    if (v > byte.MaxValue)
                    {
                        return OutOfRange(name, type, i, v);
                    }

                    span[i] = (byte)v;
                }

                break;
            case DataType.UInt16:
                for (var i = 0; i < count; i++)
                {
                    var v = contents.UintContents[i];
                    if (v > ushort.MaxValue)
                    {
                        return OutOfRange(name, type, i, v);
                    }

                    BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], (ushort)v);
                }

                break;
            case DataType.UInt32:
                Copy(contents.UintContents, MemoryMarshal.Cast<byte, uint>(span));
                break;
            case DataType.UInt64:
                Copy(contents.Uint64Contents, MemoryMarshal.Cast<byte, ulong>(span));
                break;
            case DataType.FP32:
                Copy(contents.Fp32Contents, MemoryMarshal.Cast<byte, float>(span));
                break;
            case DataType.FP64:
                Copy(contents.Fp64Contents, MemoryMarshal.Cast<byte, double>(span));
                break;
        }

        data = array.AsMemory(0, length);
        return null;
    }

    // The gateway runs on little-endian machines only (as the REST binary path assumes), so a
    // typed value's in-memory bytes are its wire layout.
    private static void Copy<T>(RepeatedField<T> source, Span<T> destination)
    {
        for (var i = 0; i < source.Count; i++)
        {
            destination[i] = source[i];
        }
    }

    private static string OutOfRange(string name, DataType type, int index, long value) =>
        $"input '{name}': element {index} ({value}) is out of range for {type.Name()}";

    private static string FieldName(DataType type) => type switch
    {
        DataType.Bool => "bool_contents",
        DataType.Int8 or DataType.Int16 or DataType.Int32 => "int_contents",
        DataType.Int64 => "int64_contents",
        DataType.UInt8 or DataType.UInt16 or DataType.UInt32 => "uint_contents",
        DataType.UInt64 => "uint64_contents",
        DataType.FP32 => "fp32_contents",
        DataType.FP64 => "fp64_contents",
        _ => "bytes_contents",
    };

    private static string? ReadOutputs(RepeatedField<ModelInferRequest.Types.InferRequestedOutputTensor> outputs, InferRequest request)
    {
        var signature = request.Model.Signature;
        if (outputs.Count == 0)
        {
            var all = request.Model.AllOutputs;
            all.CopyTo(request.Outputs, 0);
            request.OutputCount = all.Length;
            return null;
        }

        foreach (var output in outputs)
        {
            var index = signature.FindOutput(output.Name);
            if (index < 0)
            {
                return $"unknown output '{output.Name}' (the model's outputs: {InferRequestParser.OutputNames(signature)})";
            }

            if (output.Parameters.ContainsKey("classification"))
            {
                return "output parameter 'classification' is not supported by this server";
            }

            for (var i = 0; i < request.OutputCount; i++)
            {
                if (request.Outputs[i] == index)
                {
                    return $"output '{signature.Outputs[index].Name}' is requested twice";
                }
            }

            request.Outputs[request.OutputCount++] = index;
        }

        return null;
    }
}
