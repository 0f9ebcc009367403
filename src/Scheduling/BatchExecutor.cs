using System.Buffers;
using Gateway.Abstractions;

namespace Gateway.Scheduling;

/// <summary>
/// Runs one batch on an execution thread. A single request runs on its own tensors (no copy);
/// several are merged along the first dimension into pooled buffers, run once with the union of
/// their outputs, and each gets a view of its own rows. One instance per execution thread, so
/// its scratch arrays are reused without locking.
/// </summary>
internal sealed class BatchExecutor
{
    private readonly IModelRunner _runner;
    private readonly Tensor[] _tensors;
    private readonly bool[] _wanted;
    private readonly int[] _union;

    public BatchExecutor(IModelRunner runner)
    {
        _runner = runner;
        _tensors = new Tensor[runner.Signature.Inputs.Count];
        _wanted = new bool[runner.Signature.Outputs.Count];
        _union = new int[runner.Signature.Outputs.Count];
    }

    /// <summary>Executes; sets each item's outputs or error. Returns the rows executed.</summary>
    public int Execute(List<WorkItem> batch)
    {
        if (batch.Count == 1)
        {
            ExecuteOne(batch[0]);
            return batch[0].Rows;
        }

        return ExecuteMerged(batch);
    }

    /// <summary>Runs one request on its own tensors; safe to call from any thread (uses no scratch).</summary>
    public void ExecuteOne(WorkItem item)
    {
        var result = _runner.Run(item.Inputs, item.WantedOutputs);
        item.Outputs = result.Outputs;
        item.Error = result.Error;
    }

    private int ExecuteMerged(List<WorkItem> batch)
    {
        var head = batch[0].Inputs;
        var inputCount = head.Length;
        var totalRows = 0;
        foreach (var item in batch)
        {
            totalRows += item.Rows;
        }

        // Inputs: each request's rows, one after another, in one pooled buffer per input.
        var buffers = new byte[inputCount][];
        for (var i = 0; i < inputCount; i++)
        {
            var length = 0;
            foreach (var item in batch)
            {
                length += item.Inputs[i].Data.Length;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            var offset = 0;
            foreach (var item in batch)
            {
                var data = item.Inputs[i].Data.Span;
                data.CopyTo(buffer.AsSpan(offset));
                offset += data.Length;
            }

            var shape = head[i].Shape;
            shape.Set(0, totalRows);
            buffers[i] = buffer;
            _tensors[i] = new Tensor(head[i].DataType, shape, buffer.AsMemory(0, length));
        }

        // Outputs: the union of what the requests asked for, in model order.
        Array.Clear(_wanted);
        foreach (var item in batch)
        {
            foreach (var o in item.WantedOutputs)
            {
                _wanted[o] = true;
            }
        }

        var unionCount = 0;
        for (var o = 0; o < _wanted.Length; o++)
        {
            if (_wanted[o])
            {
                _union[unionCount++] = o;
            }
        }

        var union = _union.AsSpan(0, unionCount);
        var result = _runner.Run(_tensors.AsSpan(0, inputCount), union);
        Array.Clear(_tensors);
        if (result.Error is { } error)
        {
            ReturnBuffers(buffers);
            foreach (var item in batch)
            {
                item.Error = error;
            }

            return totalRows;
        }

        // The input buffers live as long as the outputs: a backend may return a view of an input.
        var shared = new SharedOutputs(result.Outputs!, totalRows, buffers, batch.Count);
        var problem = shared.Validate(_runner.Signature.Outputs, union);
        if (problem is not null)
        {
            var failure = new BackendError(BackendErrorKind.ExecutionFailed, problem);
            foreach (var item in batch)
            {
                item.Error = failure;
                shared.Release();
            }

            return totalRows;
        }

        var rowOffset = 0;
        foreach (var item in batch)
        {
            item.Slice.Set(shared, rowOffset, item.Rows, item.WantedOutputs, union);
            item.Outputs = item.Slice;
            rowOffset += item.Rows;
        }

        return totalRows;
    }

    private static void ReturnBuffers(byte[][] buffers)
    {
        foreach (var buffer in buffers)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
