using System.Buffers;
using Gateway.Abstractions;
using Gateway.Repository;
using Gateway.Scheduling;

namespace Gateway.Protocol;

/// <summary>One parsed input: where its bytes are and what they hold.</summary>
internal struct InputSlot
{
    public bool Present;
    public DataType DataType;
    public TensorShape Shape;
    public ReadOnlyMemory<byte> Data;
}

/// <summary>An output's <c>binary_data</c> parameter as given.</summary>
internal enum BinaryChoice : byte
{
    Default,
    Json,
    Binary,
}

/// <summary>
/// Per-request state of an infer call, pooled and reused: the request body, the parsed inputs
/// (views into the body for binary data, pooled arrays for JSON data), the outputs wanted and
/// the scheduling parameters. The request owns all of this memory until its response is written.
/// </summary>
internal sealed class InferRequest : IScheduledRequest
{
    private readonly List<byte[]> _rented = new(4);
    private byte[]? _body;

    public ModelVersion Model { get; private set; } = null!;

    /// <summary>The request's <c>id</c> as unescaped UTF-8, empty when absent.</summary>
    public ReadOnlyMemory<byte> Id { get; set; }

    public bool HasId { get; set; }

    /// <summary>Inputs in the model's input order.</summary>
    public InputSlot[] Inputs { get; private set; } = new InputSlot[4];

    /// <summary>Backend views of <see cref="Inputs"/>, filled by <see cref="BuildTensors"/>.</summary>
    public Tensor[] Tensors { get; private set; } = new Tensor[4];

    /// <summary>Indices of the wanted outputs, in response order.</summary>
    public int[] Outputs { get; private set; } = new int[4];

    /// <summary>Whether each wanted output is returned as binary data.</summary>
    public bool[] OutputBinary { get; private set; } = new bool[4];

    /// <summary>Each output's own <c>binary_data</c> parameter, before defaults are applied.</summary>
    public BinaryChoice[] OutputBinaryChoice { get; private set; } = new BinaryChoice[4];

    public int OutputCount { get; set; }

    /// <summary>The wanted outputs as the scheduler reads them.</summary>
    public ReadOnlySpan<int> WantedOutputs => Outputs.AsSpan(0, OutputCount);

    /// <summary>Request-level <c>binary_data_output</c>.</summary>
    public bool BinaryDataOutput { get; set; }

    /// <summary>Request <c>priority</c> parameter (1 is highest), or 0 when absent.</summary>
    public uint Priority { get; set; }

    /// <summary>
    /// The longest <c>timeout</c> accepted: 4 294 967 294 ms (about 49.7 days), the longest a
    /// <see cref="System.Threading.Timer"/> waits; the deadline's timer would throw beyond it.
    /// </summary>
    public const ulong MaxTimeoutMicroseconds = 4_294_967_294_000UL;

    /// <summary>Request <c>timeout</c> parameter in microseconds, or 0 when absent.</summary>
    public ulong TimeoutMicroseconds { get; set; }

    /// <summary>The body: JSON header followed by any binary tensor data.</summary>
    public ReadOnlyMemory<byte> Body { get; private set; }

    public int InputCount => Model.Signature.Inputs.Count;

    /// <summary>The first dimension of the first input: the rows this request contributes to a batch.</summary>
    public long BatchRows => Inputs[0].Shape.Rank > 0 ? Inputs[0].Shape[0] : 1;

    /// <summary>Readies the state for a request to <paramref name="model"/>.</summary>
    public void Start(ModelVersion model)
    {
        Model = model;
        var inputs = model.Signature.Inputs.Count;
        if (Inputs.Length < inputs)
        {
            Inputs = new InputSlot[inputs];
            Tensors = new Tensor[inputs];
        }

        var outputs = model.Signature.Outputs.Count;
        if (Outputs.Length < outputs)
        {
            Outputs = new int[outputs];
            OutputBinary = new bool[outputs];
            OutputBinaryChoice = new BinaryChoice[outputs];
        }
    }

    /// <summary>Takes ownership of a rented body array.</summary>
    public void SetBody(byte[] rented, int length)
    {
        _body = rented;
        Body = rented.AsMemory(0, length);
    }

    /// <summary>Rents an array that is returned with the request.</summary>
    public byte[] Rent(int minimumLength)
    {
        var array = ArrayPool<byte>.Shared.Rent(Math.Max(minimumLength, 16));
        _rented.Add(array);
        return array;
    }

    /// <summary>Builds the backend's tensor views; call after a successful parse.</summary>
    public ReadOnlySpan<Tensor> BuildTensors()
    {
        var count = InputCount;
        for (var i = 0; i < count; i++)
        {
            ref readonly var slot = ref Inputs[i];
            Tensors[i] = new Tensor(slot.DataType, slot.Shape, slot.Data);
        }

        return Tensors.AsSpan(0, count);
    }

    /// <summary>Returns every rented array and clears the state for reuse.</summary>
    public void Reset()
    {
        foreach (var array in _rented)
        {
            ArrayPool<byte>.Shared.Return(array);
        }

        _rented.Clear();
        var body = _body;
        _body = null;
        if (body is not null)
        {
            ArrayPool<byte>.Shared.Return(body);
        }

        Body = default;
        Id = default;
        HasId = false;
        Array.Clear(Inputs);
        Array.Clear(Tensors);
        OutputCount = 0;
        BinaryDataOutput = false;
        Priority = 0;
        TimeoutMicroseconds = 0;
        Model = null!;
    }
}
