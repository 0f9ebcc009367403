using System.Runtime.InteropServices;
using Gateway.Abstractions;

namespace Gateway.Scheduling.Tests;

/// <summary>A scheduled request over plain arrays: what the protocol's parsed request is to the scheduler.</summary>
internal sealed class PlainRequest : IScheduledRequest
{
    private readonly Tensor[] _inputs;
    private readonly int[] _outputs;

    public PlainRequest(Tensor[] inputs, int[]? outputs = null, uint priority = 0, ulong timeoutMicroseconds = 0)
    {
        _inputs = inputs;
        _outputs = outputs ?? [0];
        Priority = priority;
        TimeoutMicroseconds = timeoutMicroseconds;
    }

    public ReadOnlySpan<int> WantedOutputs => _outputs;

    public uint Priority { get; }

    public ulong TimeoutMicroseconds { get; }

    public ReadOnlySpan<Tensor> BuildTensors() => _inputs;

    /// <summary>An FP32 tensor of <paramref name="rows"/> × <paramref name="width"/> values counting up from <paramref name="first"/>.</summary>
    public static Tensor Floats(int rows, int width, float first = 0)
    {
        var values = new float[rows * width];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = first + i;
        }

        return new Tensor(DataType.FP32, new TensorShape([rows, width]), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    /// <summary>An INT64 tensor of the given shape filled with ones.</summary>
    public static Tensor Ones(params long[] shape)
    {
        var count = 1L;
        foreach (var dim in shape)
        {
            count *= dim;
        }

        var values = new long[count];
        Array.Fill(values, 1L);
        return new Tensor(DataType.Int64, new TensorShape(shape), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }
}
