using System.Runtime.InteropServices;
using Gateway.Abstractions;

namespace Gateway.Scheduling.Tests;

/// <summary>
/// A runner over plain arrays: output 0 echoes input 0, output 1 adds 1000 to it. Records what it
/// was asked; <see cref="WrongRows"/> makes it answer one row too many (a misbehaving backend).
/// </summary>
internal sealed class EchoRunner : IModelRunner
{
    public int Runs { get; private set; }

    /// <summary>Called at the start of every run (a test advances its fake clock here: the run "takes" that long).</summary>
    public Action? OnRun { get; init; }

    /// <summary>When set, every run fails with this message instead of echoing.</summary>
    public string? FailWith { get; set; }

    public int Disposed { get; set; }

    public bool WrongRows { get; init; }

    public TensorShape LastShape { get; private set; }

    public int[] LastOutputs { get; private set; } = [];

    public ModelSignature Signature { get; } = new(
        [new TensorSpec("x", DataType.FP32, new TensorShape([-1, 2]))],
        [new TensorSpec("y", DataType.FP32, new TensorShape([-1, 2])), new TensorSpec("z", DataType.FP32, new TensorShape([-1, 2]))]);

    public string Device => "cpu";

    public RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs)
    {
        Runs++;
        OnRun?.Invoke();
        if (FailWith is not null)
        {
            return RunResult.Failure(BackendErrorKind.ExecutionFailed, FailWith);
        }

        LastShape = inputs[0].Shape;
        LastOutputs = outputs.ToArray();
        var values = MemoryMarshal.Cast<byte, float>(inputs[0].Data.Span).ToArray();
        var data = new byte[outputs.Length][];
        for (var o = 0; o < outputs.Length; o++)
        {
            var copy = (float[])values.Clone();
            if (outputs[o] == 1)
            {
                for (var i = 0; i < copy.Length; i++)
                {
                    copy[i] += 1000;
                }
            }

            data[o] = MemoryMarshal.AsBytes(copy.AsSpan()).ToArray();
        }

        var shape = inputs[0].Shape;
        if (WrongRows)
        {
            shape.Set(0, shape[0] + 1);
        }

        return RunResult.Success(new Outputs(this, shape, data));
    }

    public void Dispose()
    {
    }

    private sealed class Outputs(EchoRunner owner, TensorShape shape, byte[][] data) : RunOutputs
    {
        public override int Count => data.Length;

        public override DataType GetDataType(int index) => DataType.FP32;

        public override TensorShape GetShape(int index) => shape;

        public override ReadOnlySpan<byte> GetData(int index) => data[index];

        protected override void Dispose(bool disposing) => owner.Disposed++;
    }
}
