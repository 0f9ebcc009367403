using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Gateway.Hosting;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Telemetry;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.ObjectPool;
using Microsoft.Extensions.Options;

namespace Gateway.Protocol;

/// <summary>
/// <c>POST /v2/models/{m}[/versions/{v}]/infer</c>: reads the body through the request's
/// <see cref="PipeReader"/> into one pooled array, parses and checks it against the model,
/// runs it, and writes the response from the backend's output memory.
/// </summary>
internal sealed partial class InferHandler
{
    /// <summary>Triton's header giving the length of the JSON part of a binary request or response.</summary>
    public const string HeaderContentLength = "Inference-Header-Content-Length";

    private readonly ModelRepository _repository;
    private readonly ObjectPool<InferContext> _pool;
    private readonly long _maxBodyBytes;
    private readonly TimeProvider _time;
    private readonly ILogger<InferHandler> _logger;

    /// <summary>The header carrying queue, compute and total time.</summary>
    public const string ServerTimingHeader = "Server-Timing";

    public InferHandler(ModelRepository repository, IOptions<GatewayOptions> options, TimeProvider time, ILogger<InferHandler> logger)
    {
        _repository = repository;
        _time = time;
        _pool = new DefaultObjectPool<InferContext>(new InferContext.Policy(), Environment.ProcessorCount * 16);
        _maxBodyBytes = options.Value.MaxRequestBodyBytes;
        _logger = logger;
    }

    public async Task HandleAsync(HttpContext http)
    {
        var started = _time.GetTimestamp();
        if (!ModelRoute.TryAcquire(http, _repository, out var model, out var status, out var message))
        {
            await HttpErrors.WriteAsync(http, status, message);
            return;
        }

        if (model.Definition.Access is { } access && !access.Allows(Auth.CallerExtensions.GetCaller(http)))
        {
            await HttpErrors.WriteAsync(http, StatusCodes.Status403Forbidden, $"model '{model.Name}' is restricted by its access list, which does not include this caller");
            return;
        }

        var context = _pool.Get();
        WorkItem? item = null;
        try
        {
            var request = context.Request;
            request.Start(model);
            var error = await ReadBodyAsync(http, request);
            if (error is not null)
            {
                await HttpErrors.WriteAsync(http, error.Value.Status, error.Value.Message);
                return;
            }

            if (!TrySplitBody(http, request, out var header, out var binary, out var hasBinaryHeader, out var splitError))
            {
                await HttpErrors.WriteAsync(http, StatusCodes.Status400BadRequest, splitError);
                return;
            }

            var parseError = InferRequestParser.Parse(request, header, binary, hasBinaryHeader)
                ?? CheckPriority(request, model);
            if (parseError is not null)
            {
                await HttpErrors.WriteAsync(http, StatusCodes.Status400BadRequest, parseError);
                return;
            }

            var scheduler = model.Scheduler;
            var telemetry = model.Telemetry;
            telemetry?.TagServerSpan();
            item = scheduler.Submit(request, http.RequestAborted);
            var outcome = await item.Completion;
            if (telemetry is not null && GatewayTelemetry.Source.HasListeners())
            {
                telemetry.TraceQueue(item, outcome, _time.GetTimestamp(), _time);
            }

            if (outcome != OutcomeStatus.Succeeded)
            {
                telemetry?.Completed(item, outcome, started, _time.GetTimestamp(), _time);
            }

            switch (outcome)
            {
                case OutcomeStatus.Succeeded:
                    var writeError = InferResponseWriter.Write(context.Json, request, item.Outputs!, out var binaryLength);
                    var now = _time.GetTimestamp();
                    telemetry?.Completed(item, outcome, started, now, _time);
                    if (writeError is not null)
                    {
                        await HttpErrors.WriteAsync(http, StatusCodes.Status400BadRequest, writeError);
                        return;
                    }

                    http.Response.Headers[ServerTimingHeader] = ServerTiming(item, started, now, _time);
                    WriteResponse(http, context, item.Outputs!, binaryLength);
                    break;
                case OutcomeStatus.Failed:
                    var runError = item.Error!.Value;
                    Log.RunFailed(_logger, model.Name, model.VersionText, runError.Message);
                    await HttpErrors.WriteAsync(http, HttpErrors.StatusFor(runError.Kind), $"model '{model.Name}' version {model.VersionText} failed: {runError.Message}");
                    return;
                case OutcomeStatus.QueueFull:
                    http.Response.Headers.RetryAfter = scheduler.RetryAfterSeconds().ToString(CultureInfo.InvariantCulture);
                    await HttpErrors.WriteAsync(http, StatusCodes.Status429TooManyRequests,
                        $"model '{model.Name}' has {scheduler.Policy.MaxQueueSize} requests queued, its max_queue_size; retry later");
                    return;
                case OutcomeStatus.DeadlineExceeded:
                    await HttpErrors.WriteAsync(http, StatusCodes.Status504GatewayTimeout,
                        $"the request's deadline passed while it waited in the queue of model '{model.Name}'; it was not executed");
                    return;
                default:
                    // Cancelled: the client went away while queued; there is nobody to answer.
                    MarkClientGone(http);
                    return;
            }

            await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
        }
        catch (Exception ex) when (ex is BadHttpRequestException bad)
        {
            await HttpErrors.WriteAsync(http, bad.StatusCode, bad.Message);
        }
        catch (Exception ex) when (ClientGone(ex, http))
        {
            // The client went away; nothing to answer. Recorded as 499, not as a server error.
            MarkClientGone(http);
        }
        catch (Exception ex)
        {
            if (Activity.Current is { IsAllDataRequested: true } span)
            {
                span.AddException(ex);
                span.SetStatus(ActivityStatusCode.Error, "unexpected error");
            }

            Log.Unexpected(_logger, ex, model.Name);
            await HttpErrors.WriteAsync(http, StatusCodes.Status500InternalServerError, "internal error while serving the request; see the server log");
        }
        finally
        {
            if (item is not null)
            {
                await model.Scheduler.ReleaseAsync(item);
            }

            _pool.Return(context);
            model.Release();
        }
    }

    /// <summary>
    /// Whether <paramref name="ex"/> means the client disconnected: the request was aborted, or the
    /// connection was reset or aborted underneath a read (which can surface before the abort token).
    /// </summary>
    private static bool ClientGone(Exception ex, HttpContext http) =>
        http.RequestAborted.IsCancellationRequested
            ? ex is OperationCanceledException or ConnectionResetException or ConnectionAbortedException or IOException
            : ex is ConnectionResetException or ConnectionAbortedException || ex.InnerException is ConnectionResetException or ConnectionAbortedException;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MarkClientGone(HttpContext http)
    {
        if (!http.Response.HasStarted)
        {
            http.Response.StatusCode = TelemetryMiddleware.ClientClosedRequest;
        }
    }

    /// <summary>
    /// <c>Server-Timing</c>: queue wait, compute (the backend's run of the batch) and total time
    /// from the handler's start to the response, in milliseconds.
    /// </summary>
    private static string ServerTiming(WorkItem item, long started, long now, TimeProvider time)
    {
        // PERF: formatted by hand (custom numeric formats showed in profiles) and without optional
        // spaces: this string is most of what the handler allocates per request.
        var perMicro = time.TimestampFrequency / 1_000_000.0;
        Span<char> text = stackalloc char[96];
        var length = 0;
        Append(text, ref length, "queue;dur=");
        AppendMillis(text, ref length, (long)((item.StartedAt - item.EnqueuedAt) / perMicro));
        Append(text, ref length, ",compute;dur=");
        AppendMillis(text, ref length, (long)((item.FinishedAt - item.StartedAt) / perMicro));
        Append(text, ref length, ",total;dur=");
        AppendMillis(text, ref length, (long)((now - started) / perMicro));
        return new string(text[..length]);
    }

    private static void Append(Span<char> text, ref int length, string value)
    {
        value.CopyTo(text[length..]);
        length += value.Length;
    }

    /// <summary>Writes microseconds as milliseconds with three decimals ("0.042").</summary>
    internal static void AppendMillis(Span<char> text, ref int length, long micros)
    {
        micros = Math.Max(0, micros);
        ((ulong)(micros / 1000)).TryFormat(text[length..], out var written, default, CultureInfo.InvariantCulture);
        length += written;
        text[length++] = '.';
        var fraction = (int)(micros % 1000);
        text[length++] = (char)('0' + (fraction / 100));
        text[length++] = (char)('0' + (fraction / 10 % 10));
        text[length++] = (char)('0' + (fraction % 10));
    }

    internal static string? CheckPriority(InferRequest request, ModelVersion model)
    {
        var levels = model.Definition.Scheduling.PriorityLevels;
        if (request.Priority > 0 && levels > 0 && request.Priority > levels)
        {
            return $"parameter 'priority' must be from 1 (highest) to {levels} for model '{model.Name}' (got {request.Priority})";
        }

        return null;
    }

    /// <summary>Copies the JSON part and then each binary output into the response pipe.</summary>
    private static void WriteResponse(HttpContext http, InferContext context, Abstractions.RunOutputs outputs, long binaryLength)
    {
        var request = context.Request;
        var response = http.Response;
        var json = context.Response.WrittenSpan;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentLength = json.Length + binaryLength;
        if (binaryLength > 0)
        {
            response.ContentType = "application/octet-stream";
            response.Headers[HeaderContentLength] = json.Length.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            response.ContentType = "application/json";
        }

        var pipe = response.BodyWriter;
        pipe.Write(json);
        if (binaryLength > 0)
        {
            for (var i = 0; i < request.OutputCount; i++)
            {
                if (request.OutputBinary[i])
                {
                    pipe.Write(outputs.GetData(i));
                }
            }
        }
    }

    private ValueTask<(int Status, string Message)?> ReadBodyAsync(HttpContext http, InferRequest request) =>
        RequestBody.ReadAsync(http.Request.BodyReader, http.Request.ContentLength, _maxBodyBytes, request, http.RequestAborted);

    internal static bool TrySplitBody(HttpContext http, InferRequest request, out ReadOnlyMemory<byte> header, out ReadOnlyMemory<byte> binary, out bool hasBinaryHeader, out string error)
    {
        var body = request.Body;
        header = body;
        binary = default;
        hasBinaryHeader = false;
        error = string.Empty;
        if (body.IsEmpty)
        {
            error = "the request body is empty; send a JSON infer request";
            return false;
        }

        if (!http.Request.Headers.TryGetValue(HeaderContentLength, out var values))
        {
            return true;
        }

        if (!long.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > body.Length || length < 2)
        {
            error = $"{HeaderContentLength} must be an integer from 2 to the body length {body.Length} (got '{values}')";
            return false;
        }

        hasBinaryHeader = true;
        header = body[..(int)length];
        binary = body[(int)length..];
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(200, LogLevel.Warning, "Model {Model} version {Version} failed to run: {Reason}")]
        public static partial void RunFailed(ILogger logger, string model, string version, string reason);

        [LoggerMessage(201, LogLevel.Error, "Unexpected error serving an infer request for model {Model}")]
        public static partial void Unexpected(ILogger logger, Exception exception, string model);
    }
}
