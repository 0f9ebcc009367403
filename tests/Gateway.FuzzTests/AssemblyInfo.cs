// One fuzz run at a time: each measures the heap before and after, and its executions per second.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
