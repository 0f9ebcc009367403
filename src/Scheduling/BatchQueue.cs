namespace Gateway.Scheduling;

/// <summary>What <see cref="BatchQueue.Decide"/> concluded.</summary>
internal enum BatchDecision
{
    /// <summary>Nothing queued.</summary>
    Empty,

    /// <summary>The batch list holds requests to execute now.</summary>
    Dispatch,

    /// <summary>Requests are queued but the batch should wait for more until the returned timestamp.</summary>
    Wait,
}

/// <summary>
/// The queue of one model version: a FIFO per priority level, linked through the work items
/// themselves, and the batch-forming policy over it. Not thread-safe: the scheduler calls it
/// under its lock. Time comes in as timestamps, so the policy is a pure function of the queue
/// and the clock and is tested by advancing a fake clock.
/// </summary>
internal sealed class BatchQueue
{
    private readonly SchedulingPolicy _policy;
    private readonly long _maxDelayTicks;
    private readonly WorkItem?[] _heads;
    private readonly WorkItem?[] _tails;
    private readonly TunedBatching? _tuning;

    public BatchQueue(SchedulingPolicy policy, long timestampFrequency)
    {
        _policy = policy;
        _maxDelayTicks = (long)(policy.MaxQueueDelay.TotalSeconds * timestampFrequency);
        _heads = new WorkItem?[policy.QueueLevels];
        _tails = new WorkItem?[policy.QueueLevels];
        _tuning = policy.Batching ? policy.Tuning : null;
    }

    public int Count { get; private set; }

    /// <summary>Batches dispatched because they reached the target size.</summary>
    public long DispatchedFull { get; private set; }

    /// <summary>Batches dispatched short of the target because the oldest request's window ran out.</summary>
    public long DispatchedAtWindow { get; private set; }

    /// <summary>Batches dispatched short of the target at once, the tuned decision finding no wait that pays.</summary>
    public long DispatchedEarly { get; private set; }

    /// <summary>The earliest enqueue timestamp among the queue heads (call only when not empty).</summary>
    public long OldestEnqueuedAt()
    {
        var oldest = long.MaxValue;
        foreach (var head in _heads)
        {
            if (head is not null && head.EnqueuedAt < oldest)
            {
                oldest = head.EnqueuedAt;
            }
        }

        return oldest;
    }

    public void Enqueue(WorkItem item)
    {
        var level = item.Level;
        item.Previous = _tails[level];
        item.Next = null;
        if (_tails[level] is { } tail)
        {
            tail.Next = item;
        }
        else
        {
            _heads[level] = item;
        }

        _tails[level] = item;
        Count++;
    }

    public void Remove(WorkItem item)
    {
        var level = item.Level;
        if (item.Previous is { } previous)
        {
            previous.Next = item.Next;
        }
        else
        {
            _heads[level] = item.Next;
        }

        if (item.Next is { } next)
        {
            next.Previous = item.Previous;
        }
        else
        {
            _tails[level] = item.Previous;
        }

        item.Previous = null;
        item.Next = null;
        Count--;
    }

    /// <summary>
    /// Forms the next batch. Expired requests are removed into <paramref name="expired"/>; a
    /// dispatched batch is removed into <paramref name="batch"/> (oldest, highest priority first).
    /// On <see cref="BatchDecision.Wait"/>, <paramref name="waitUntil"/> is when the oldest
    /// request's delay runs out.
    /// </summary>
    public BatchDecision Decide(long now, List<WorkItem> batch, List<WorkItem> expired, out long waitUntil)
    {
        waitUntil = 0;
        RemoveExpired(now, expired);
        var head = First();
        if (head is null)
        {
            return BatchDecision.Empty;
        }

        if (!_policy.Batching)
        {
            Take(head, batch);
            return BatchDecision.Dispatch;
        }

        // Candidates: in priority then arrival order, every request whose non-batch dimensions
        // agree with the head's and whose rows still fit. Others wait for a later batch.
        var max = _policy.MaxBatchSize;
        var rows = 0;
        for (var level = 0; level < _heads.Length && rows < max; level++)
        {
            for (var item = _heads[level]; item is not null && rows < max; item = item.Next)
            {
                if (rows + item.Rows <= max && Compatible(head, item))
                {
                    batch.Add(item);
                    rows += item.Rows;
                }
            }
        }

        var target = _policy.TargetBatchSize;
        if (rows >= target)
        {
            TrimTo(batch, target);
            DispatchedFull++;
        }
        else if (now - head.EnqueuedAt < _maxDelayTicks)
        {
            if (_tuning is null || _tuning.ShouldWait(rows))
            {
                // Tuned: held only while the measured curve says a larger batch runs more rows
                // per second; decided again when a request arrives or the window runs out.
                batch.Clear();
                waitUntil = head.EnqueuedAt + _maxDelayTicks;
                return BatchDecision.Wait;
            }

            DispatchedEarly++;
        }
        else
        {
            DispatchedAtWindow++;
            // The delay ran out: the largest preferred size an exact prefix reaches, else all.
            var preferred = _policy.PreferredBatchSizes;
            for (var p = preferred.Length - 1; p >= 0; p--)
            {
                if (PrefixReaches(batch, preferred[p]))
                {
                    TrimTo(batch, preferred[p]);
                    break;
                }
            }
        }

        foreach (var item in batch)
        {
            Remove(item);
        }

        return BatchDecision.Dispatch;
    }

    private WorkItem? First()
    {
        foreach (var head in _heads)
        {
            if (head is not null)
            {
                return head;
            }
        }

        return null;
    }

    private void Take(WorkItem item, List<WorkItem> batch)
    {
        Remove(item);
        batch.Add(item);
    }

    private void RemoveExpired(long now, List<WorkItem> expired)
    {
        for (var level = 0; level < _heads.Length; level++)
        {
            var item = _heads[level];
            while (item is not null)
            {
                var next = item.Next;
                if (item.Deadline != 0 && now >= item.Deadline)
                {
                    Remove(item);
                    expired.Add(item);
                }

                item = next;
            }
        }
    }

    /// <summary>Keeps the longest prefix whose rows do not exceed <paramref name="rows"/> (at least one request).</summary>
    private static void TrimTo(List<WorkItem> batch, int rows)
    {
        var sum = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            sum += batch[i].Rows;
            if (sum > rows)
            {
                batch.RemoveRange(Math.Max(i, 1), batch.Count - Math.Max(i, 1));
                return;
            }
        }
    }

    private static bool PrefixReaches(List<WorkItem> batch, int rows)
    {
        var sum = 0;
        foreach (var item in batch)
        {
            sum += item.Rows;
            if (sum >= rows)
            {
                return sum == rows;
            }
        }

        return false;
    }

    /// <summary>Requests merge only when every input agrees on every dimension but the first.</summary>
    internal static bool Compatible(WorkItem head, WorkItem other)
    {
        if (ReferenceEquals(head, other))
        {
            return true;
        }

        var a = head.Inputs;
        var b = other.Inputs;
        for (var i = 0; i < a.Length; i++)
        {
            // Tensor.Shape returns a copy: hold it in a local so Dims can point into it.
            var shapeA = a[i].Shape;
            var shapeB = b[i].Shape;
            if (!shapeA.Dims[1..].SequenceEqual(shapeB.Dims[1..]))
            {
                return false;
            }
        }

        return true;
    }
}
