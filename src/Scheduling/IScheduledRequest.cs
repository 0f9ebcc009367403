using Gateway.Abstractions;

namespace Gateway.Scheduling;

/// <summary>
/// What the scheduler needs of a request: its inputs as tensors, the outputs it wants, and its
/// priority and deadline. The protocol's parsed request implements it; tests implement it over
/// plain arrays. The scheduler reads it once, in <see cref="ModelScheduler.Submit"/>, and keeps
/// what it read in the pooled <see cref="WorkItem"/>, so no call goes through this interface
/// while batches form or run.
/// </summary>
public interface IScheduledRequest
{
    /// <summary>
    /// The inputs in the model's input order, as views over the request's own memory, which must
    /// stay valid until the request's work item is released. The first dimension of the first
    /// input is the number of rows the request adds to a batch.
    /// </summary>
    ReadOnlySpan<Tensor> BuildTensors();

    /// <summary>Indices of the wanted outputs of the model's signature, in response order.</summary>
    ReadOnlySpan<int> WantedOutputs { get; }

    /// <summary>Priority level, 1 highest, or 0 for the model's default.</summary>
    uint Priority { get; }

    /// <summary>Deadline from submission in microseconds, or 0 for the model's default.</summary>
    ulong TimeoutMicroseconds { get; }
}
