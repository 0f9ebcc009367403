using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Auth;
using Gateway.Documentation;
using Gateway.Repository;
using Gateway.Scheduling;

namespace Gateway.Protocol;

/// <summary>A count with its total duration in nanoseconds (Triton's StatisticDuration).</summary>
internal sealed class StatDuration
{
    [JsonPropertyName("count")]
    public long Count { get; init; }

    [JsonPropertyName("ns")]
    public long Ns { get; init; }
}

internal sealed class InferenceStats
{
    [JsonPropertyName("success")]
    public required StatDuration Success { get; init; }

    [JsonPropertyName("fail")]
    public required StatDuration Fail { get; init; }

    [JsonPropertyName("queue")]
    public required StatDuration Queue { get; init; }

    [JsonPropertyName("compute_infer")]
    public required StatDuration ComputeInfer { get; init; }
}

internal sealed class BatchStats
{
    [JsonPropertyName("batch_size")]
    public int BatchSize { get; init; }

    [JsonPropertyName("compute_infer")]
    public required StatDuration ComputeInfer { get; init; }
}

/// <summary>Requests refused or dropped before execution, by reason (a gateway addition to Triton's shape).</summary>
internal sealed class RejectionStats
{
    [JsonPropertyName("queue_full")]
    public long QueueFull { get; init; }

    [JsonPropertyName("deadline_exceeded")]
    public long DeadlineExceeded { get; init; }

    [JsonPropertyName("cancelled")]
    public long Cancelled { get; init; }
}

/// <summary>One point of the measured run-time curve.</summary>
internal sealed class CurvePoint
{
    [JsonPropertyName("batch_size")]
    public int BatchSize { get; init; }

    [JsonPropertyName("ns")]
    public long Ns { get; init; }
}

/// <summary>Batches dispatched by why they went.</summary>
internal sealed class DispatchStats
{
    [JsonPropertyName("full")]
    public long Full { get; init; }

    [JsonPropertyName("at_window")]
    public long AtWindow { get; init; }

    [JsonPropertyName("early")]
    public long Early { get; init; }
}

/// <summary>
/// How a batching model version decides what to run now against what to wait for (a gateway
/// addition): <c>tuned</c> from the curve measured at load, or <c>configured</c> (Triton's
/// fixed window) with the reason.
/// </summary>
internal sealed class BatchingPolicyStats
{
    [JsonPropertyName("mode")]
    public required string Mode { get; init; }

    [JsonPropertyName("note")]
    public required string Note { get; init; }

    [JsonPropertyName("max_batch_size")]
    public int MaxBatchSize { get; init; }

    [JsonPropertyName("target_batch_size")]
    public int TargetBatchSize { get; init; }

    [JsonPropertyName("max_queue_delay_microseconds")]
    public long MaxQueueDelayMicroseconds { get; init; }

    /// <summary>Tuned: the size with the most rows per second; 1 means a lone request is never held.</summary>
    [JsonPropertyName("best_batch_size")]
    public int BestBatchSize { get; init; }

    [JsonPropertyName("device")]
    public required string Device { get; init; }

    [JsonPropertyName("curve")]
    public required List<CurvePoint> Curve { get; init; }

    [JsonPropertyName("dispatched")]
    public required DispatchStats Dispatched { get; init; }
}

internal sealed class ModelStatistics
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("version")]
    public required string Version { get; init; }

    [JsonPropertyName("last_inference")]
    public long LastInference { get; init; }

    [JsonPropertyName("inference_count")]
    public long InferenceCount { get; init; }

    [JsonPropertyName("execution_count")]
    public long ExecutionCount { get; init; }

    [JsonPropertyName("queue_depth")]
    public int QueueDepth { get; init; }

    [JsonPropertyName("inference_stats")]
    public required InferenceStats InferenceStats { get; init; }

    [JsonPropertyName("batch_stats")]
    public required List<BatchStats> BatchStats { get; init; }

    [JsonPropertyName("rejections")]
    public required RejectionStats Rejections { get; init; }

    /// <summary>Null (left out) for a model without dynamic batching.</summary>
    [JsonPropertyName("batching")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public BatchingPolicyStats? Batching { get; init; }
}

internal sealed class StatisticsResponse
{
    [JsonPropertyName("model_stats")]
    public required List<ModelStatistics> ModelStats { get; init; }
}

[JsonSerializable(typeof(StatisticsResponse))]
internal sealed partial class StatisticsJsonContext : JsonSerializerContext;

/// <summary>Triton's statistics extension: <c>GET /v2/models[/{m}[/versions/{v}]]/stats</c>.</summary>
internal static class StatisticsEndpoints
{
    public static void MapStatistics(this IEndpointRouteBuilder app)
    {
        var repository = app.ServiceProvider.GetRequiredService<ModelRepository>();
        app.MapGet("/v2/models/stats", context =>
        {
            var stats = new List<ModelStatistics>();
            foreach (var (_, model) in repository.Models)
            {
                foreach (var version in model.Versions)
                {
                    stats.Add(Collect(version));
                }
            }

            stats.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            return WriteAsync(context, stats);
        }).Declare(
            Permission.ReadUsage,
            "usage statistics of every model",
            new("allStatistics", "statistics", "Statistics of every model", "Counts and cumulative times per model version, batch sizes, rejections.",
                Reply.Json<StatisticsResponse>(200, "Statistics.")));

        app.MapGet("/v2/models/{model}/stats", context =>
        {
            if (!repository.TryGetModel((string)context.Request.RouteValues["model"]!, out var model))
            {
                return ModelRoute.TryResolve(context, repository, out _, out var status, out var message)
                    ? Task.CompletedTask
                    : HttpErrors.WriteAsync(context, status, message);
            }

            var stats = new List<ModelStatistics>();
            foreach (var version in model.Versions)
            {
                stats.Add(Collect(version));
            }

            return WriteAsync(context, stats);
        }).Declare(
            Permission.ReadUsage,
            "usage statistics of a model",
            new("modelStatistics", "statistics", "Statistics of a model", "Every served version of the model.",
                [Reply.Json<StatisticsResponse>(200, "Statistics."), .. Replies.ModelErrors]));

        app.MapGet("/v2/models/{model}/versions/{version}/stats", context =>
            ModelRoute.TryResolve(context, repository, out var version, out var status, out var message)
                ? WriteAsync(context, [Collect(version)])
                : HttpErrors.WriteAsync(context, status, message)).Declare(
            Permission.ReadUsage,
            "usage statistics of a model version",
            new("modelVersionStatistics", "statistics", "Statistics of a model version", "One version.",
                [Reply.Json<StatisticsResponse>(200, "Statistics."), .. Replies.ModelErrors]));
    }

    private static ModelStatistics Collect(ModelVersion version)
    {
        var scheduler = version.Scheduler;
        var stats = scheduler.Stats;
        var nsPerTick = 1e9 / scheduler.Time.TimestampFrequency;
        var succeeded = stats.Succeeded;
        var executions = stats.ReadExecutions();
        var batches = new List<BatchStats>();
        for (var size = 1; size < executions.BatchSizes.Length; size++)
        {
            var count = executions.BatchSizes[size];
            if (count > 0)
            {
                var ticks = executions.BatchComputeTicks[size];
                batches.Add(new BatchStats { BatchSize = size, ComputeInfer = new StatDuration { Count = count, Ns = (long)(ticks * nsPerTick) } });
            }
        }

        return new ModelStatistics
        {
            Name = version.Name,
            Version = version.VersionText,
            LastInference = stats.LastInferenceMs,
            InferenceCount = executions.ExecutedRows,
            ExecutionCount = executions.Executions,
            QueueDepth = scheduler.QueueDepth,
            InferenceStats = new InferenceStats
            {
                // As Triton counts them: success and fail per request (submission to completion);
                // queue and compute per succeeded request, each counting its batch's whole run.
                Success = new StatDuration { Count = succeeded, Ns = (long)(stats.SuccessTicks * nsPerTick) },
                Fail = new StatDuration { Count = stats.Failed, Ns = (long)(stats.FailTicks * nsPerTick) },
                Queue = new StatDuration { Count = succeeded, Ns = (long)(stats.QueueTicks * nsPerTick) },
                ComputeInfer = new StatDuration { Count = succeeded, Ns = (long)(stats.RequestComputeTicks * nsPerTick) },
            },
            BatchStats = batches,
            Rejections = new RejectionStats
            {
                QueueFull = stats.QueueFull,
                DeadlineExceeded = stats.DeadlineExceeded,
                Cancelled = stats.Cancelled,
            },
            Batching = BatchingOf(version),
        };
    }

    private static BatchingPolicyStats? BatchingOf(ModelVersion version)
    {
        var policy = version.Scheduler.Policy;
        if (!policy.Batching)
        {
            return null;
        }

        var curve = new List<CurvePoint>();
        if (policy.Tuning is { } tuning)
        {
            var sizes = tuning.Curve.Sizes;
            var seconds = tuning.Curve.Seconds;
            for (var i = 0; i < sizes.Length; i++)
            {
                curve.Add(new CurvePoint { BatchSize = sizes[i], Ns = (long)(seconds[i] * 1e9) });
            }
        }

        var dispatches = version.Scheduler.Dispatches;
        return new BatchingPolicyStats
        {
            Mode = policy.Tuning is null ? "configured" : "tuned",
            Note = policy.TuningNote,
            MaxBatchSize = policy.MaxBatchSize,
            TargetBatchSize = policy.TargetBatchSize,
            MaxQueueDelayMicroseconds = (long)policy.MaxQueueDelay.TotalMicroseconds,
            BestBatchSize = policy.Tuning?.BestBatchSize ?? 0,
            Device = version.Runner.Device,
            Curve = curve,
            Dispatched = new DispatchStats { Full = dispatches.Full, AtWindow = dispatches.AtWindow, Early = dispatches.Early },
        };
    }

    private static Task WriteAsync(HttpContext context, List<ModelStatistics> stats)
    {
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, new StatisticsResponse { ModelStats = stats }, StatisticsJsonContext.Default.StatisticsResponse, context.RequestAborted);
    }
}
