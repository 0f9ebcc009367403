namespace Gateway.Abstractions;

/// <summary>
/// One input or output of a model as its signature states it: full shape including any batch
/// dimension, with -1 for dimensions of variable size.
/// </summary>
public sealed class TensorSpec
{
    /// <summary>Creates a spec.</summary>
    public TensorSpec(string name, DataType dataType, TensorShape shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        NameUtf8 = System.Text.Encoding.UTF8.GetBytes(name);
        DataType = dataType;
        Shape = shape;
    }

    /// <summary>Tensor name.</summary>
    public string Name { get; }

    /// <summary>The name as UTF-8, for allocation-free matching against request bytes.</summary>
    public ReadOnlyMemory<byte> NameUtf8 { get; }

    /// <summary>Element type.</summary>
    public DataType DataType { get; }

    /// <summary>Full shape; -1 marks a variable dimension.</summary>
    public TensorShape Shape { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {DataType.Name()} {Shape}";
}

/// <summary>The inputs and outputs of a loaded model, in the order the backend uses them.</summary>
public sealed class ModelSignature
{
    /// <summary>Creates a signature.</summary>
    public ModelSignature(IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs)
    {
        Inputs = inputs;
        Outputs = outputs;
    }

    /// <summary>Inputs in backend order.</summary>
    public IReadOnlyList<TensorSpec> Inputs { get; }

    /// <summary>Outputs in backend order.</summary>
    public IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>The index of every output, for a run that reads them all (warm-up and probes at load).</summary>
    public int[] AllOutputs() => [.. Enumerable.Range(0, Outputs.Count)];

    /// <summary>
    /// Zero-filled inputs for runs at load (warm-up, probes), never for requests: a variable first
    /// dimension as <paramref name="rows"/>, every other variable dimension 1, BYTES as empty
    /// strings (a 4-byte length each).
    /// </summary>
    public Tensor[] ZeroInputs(long rows)
    {
        var tensors = new Tensor[Inputs.Count];
        for (var i = 0; i < tensors.Length; i++)
        {
            var spec = Inputs[i];
            var shape = default(TensorShape);
            for (var d = 0; d < spec.Shape.Rank; d++)
            {
                var dim = spec.Shape[d];
                shape.TryAdd(dim >= 0 ? dim : d == 0 ? rows : 1);
            }

            shape.TryGetElementCount(int.MaxValue, out var elements);
            var size = spec.DataType == DataType.Bytes ? 4 * elements : elements * spec.DataType.ElementSize();
            tensors[i] = new Tensor(spec.DataType, shape, new byte[size]);
        }

        return tensors;
    }

    /// <summary>Index of the input named <paramref name="utf8Name"/>, or -1.</summary>
    public int FindInput(ReadOnlySpan<byte> utf8Name) => Find(Inputs, utf8Name);

    /// <summary>Index of the output named <paramref name="utf8Name"/>, or -1.</summary>
    public int FindOutput(ReadOnlySpan<byte> utf8Name) => Find(Outputs, utf8Name);

    /// <summary>Index of the input named <paramref name="name"/>, or -1.</summary>
    public int FindInput(string name) => Find(Inputs, name);

    /// <summary>Index of the output named <paramref name="name"/>, or -1.</summary>
    public int FindOutput(string name) => Find(Outputs, name);

    private static int Find(IReadOnlyList<TensorSpec> specs, ReadOnlySpan<byte> utf8Name)
    {
        for (var i = 0; i < specs.Count; i++)
        {
            if (specs[i].NameUtf8.Span.SequenceEqual(utf8Name))
            {
                return i;
            }
        }

        return -1;
    }

    private static int Find(IReadOnlyList<TensorSpec> specs, string name)
    {
        for (var i = 0; i < specs.Count; i++)
        {
            if (string.Equals(specs[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
