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
