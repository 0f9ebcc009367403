using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Backends.Torch;
using TorchSharp;

// Images (rows) per second, as medians of one-second windows after a warm-up (--warmup S, default 2):
//   raw   --backend torch|onnx --model FILE [--batch 1] [--device cpu|cuda:N] [--shape 3,224,224] [--seconds 20] [--libtorch DIR] [--threads 0]
//         the model in this process, no HTTP: TorchSharp's forward on a ready input tensor, or
//         the ONNX backend's runner on a host tensor (what the gateway calls); --via runner: the
//         Torch backend's runner instead of TorchSharp's forward
//   http  --url URL --model NAME [--batch 1] [--concurrency 1] [--shape 3,224,224] [--seconds 20]
//         binary-extension FP32 requests of one batch each against a running gateway
//   --inputs DIR/NAME.sK (raw and http): the reference sample's inputs (any datatype, several
//         inputs: bert_tiny), repeated along the first dimension to --batch, instead of random images.
//   Both also print one "LEG key=value ..." line: rows/s, p50/p99 per run or request (ms) and,
//   for http, the mean batch the server formed (inference_count / execution_count over the window).
//   check --url URL --fixtures DIR [--suffix ""] [--tolerance 1e-4]
//         every reference sample through the gateway; exit code 1 on any mismatch
var command = args.Length > 0 ? args[0] : string.Empty;
var options = Options.Parse(args.AsSpan(Math.Min(1, args.Length)));
return command switch
{
    "raw" => Raw.Run(options),
    "http" => await Http.RunAsync(options),
    "check" => await Check.RunAsync(options),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Gateway.Throughput raw|http|check [--option value ...] (see Program.cs)");
    return 2;
}

/// <summary>Command-line options as <c>--name value</c> pairs.</summary>
internal sealed class Options(Dictionary<string, string> values)
{
    public static Options Parse(ReadOnlySpan<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        return new Options(values);
    }

    public string Get(string name, string? fallback = null) =>
        values.TryGetValue(name, out var value) ? value : fallback ?? throw new ArgumentException($"--{name} is required");

    public int Int(string name, int fallback) => values.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) => values.TryGetValue(name, out var value) ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;

    public long[] Shape(int batch)
    {
        var rest = Get("shape", "3,224,224").Split(',');
        var shape = new long[rest.Length + 1];
        shape[0] = batch;
        for (var i = 0; i < rest.Length; i++)
        {
            shape[i + 1] = long.Parse(rest[i], CultureInfo.InvariantCulture);
        }

        return shape;
    }
}

/// <summary>Collects per-window rates and reports their median.</summary>
internal static class Windows
{
    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The value at <paramref name="percentile"/> of Stopwatch durations, in milliseconds (nearest rank).</summary>
    public static double Percentile(List<long> ticks, double percentile)
    {
        if (ticks.Count == 0)
        {
            return 0;
        }

        ticks.Sort();
        var rank = (int)Math.Ceiling(percentile / 100 * ticks.Count) - 1;
        return ticks[Math.Clamp(rank, 0, ticks.Count - 1)] * 1000.0 / Stopwatch.Frequency;
    }

    /// <summary>The machine-readable line scripts/gpu-check.sh builds its table from.</summary>
    public static string Leg(string kind, string fields, List<double> rates, List<long> latencies) =>
        string.Create(CultureInfo.InvariantCulture, $"LEG {kind} {fields} rows_per_s={Median(rates):F2} p50_ms={Percentile(latencies, 50):F3} p99_ms={Percentile(latencies, 99):F3} samples={latencies.Count}");

    public static string Summary(List<double> rates)
    {
        if (rates.Count == 0)
        {
            return "no complete window";
        }

        // The windows themselves, for scripts that pool several legs into one median.
        Console.WriteLine("windows: " + string.Join(' ', rates.Select(r => r.ToString("F2", CultureInfo.InvariantCulture))));
        var sorted = rates.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return string.Create(CultureInfo.InvariantCulture, $"median {median:F1} img/s over {sorted.Length} one-second windows (min {sorted[0]:F1}, max {sorted[^1]:F1})");
    }

    public static float[] RandomImages(long[] shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
        }

        var random = new Random(42);
        var data = new float[count];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return data;
    }
}

/// <summary>One input as sent: its datatype, shape (batch first) and bytes.</summary>
internal sealed record InputData(DataType Type, long[] Shape, byte[] Data)
{
    /// <summary>
    /// --inputs DIR/NAME.sK: every input of that reference sample (one row), repeated to
    /// <paramref name="batch"/> rows; without it, one FP32 input of random images shaped --shape.
    /// </summary>
    public static List<InputData> Load(Options options, int batch)
    {
        var stem = options.Get("inputs", string.Empty);
        if (stem.Length == 0)
        {
            var shape = options.Shape(batch);
            return [new InputData(DataType.FP32, shape, MemoryMarshal.AsBytes(Windows.RandomImages(shape).AsSpan()).ToArray())];
        }

        var inputs = new List<InputData>();
        for (var i = 0; File.Exists($"{stem}.in{i}.bin"); i++)
        {
            var (type, shapeText, data) = Check.Read($"{stem}.in{i}");
            var shape = shapeText.Split(',').Select(static d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
            if (shape[0] != 1 || !DataTypes.TryParse(type, out var dataType))
            {
                throw new InvalidOperationException($"{stem}.in{i}: want one row of a known datatype, got {type} [{shapeText}]");
            }

            var rows = new byte[data.Length * batch];
            for (var row = 0; row < batch; row++)
            {
                data.CopyTo(rows, row * data.Length);
            }

            shape[0] = batch;
            inputs.Add(new InputData(dataType, shape, rows));
        }

        return inputs.Count > 0 ? inputs : throw new InvalidOperationException($"--inputs {stem}: no {stem}.in0.bin");
    }

    public Tensor ToTensor() => new(Type, new TensorShape(Shape), Data);
}

internal static class Raw
{
    public static int Run(Options options)
    {
        var backend = options.Get("backend");
        var batch = options.Int("batch", 1);
        var seconds = options.Int("seconds", 20);
        var device = options.Get("device", "cpu");
        var inputs = InputData.Load(options, batch);
        Func<int> step;
        IDisposable owner;
        if (backend == "onnx" || options.Get("via", "torchsharp") == "runner")
        {
            // The backend's own runner over managed buffers: what the gateway calls, minus HTTP.
            LoadResult result;
            if (backend == "onnx")
            {
                result = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "raw", Version = 1, ModelPath = options.Get("model"), Device = device });
            }
            else
            {
                var torchBackend = new TorchBackend(new TorchBackendOptions
                {
                    LibTorchPath = options.Get("libtorch", string.Empty) is { Length: > 0 } dir ? dir : null,
                    IntraOpThreads = options.Int("threads", 0),
                });
                result = torchBackend.Load(new ModelLoadRequest { ModelName = "raw", Version = 1, ModelPath = options.Get("model"), Device = device, DeclaredSignature = TorchSignature(options.Get("model"), inputs) });
            }

            if (result.Error is { } error)
            {
                Console.Error.WriteLine(error.Message);
                return 1;
            }

            var runner = result.Runner!;
            var tensors = inputs.ConvertAll(static i => i.ToTensor()).ToArray();
            var outputs = new[] { 0 };
            step = () =>
            {
                var run = runner.Run(tensors, outputs);
                run.Outputs!.Dispose();
                return batch;
            };
            owner = runner;
        }
        else
        {
            if (!TorchRuntime.TryLoad(new TorchBackendOptions { LibTorchPath = options.Get("libtorch", string.Empty) is { Length: > 0 } dir ? dir : null, IntraOpThreads = options.Int("threads", 0) }, out var error))
            {
                Console.Error.WriteLine(error);
                return 1;
            }

            if (inputs.Count != 1 || inputs[0].Type != DataType.FP32)
            {
                Console.Error.WriteLine("TorchSharp's forward takes one FP32 input here: use --via runner for other models");
                return 2;
            }

            var cuda = device.StartsWith("cuda", StringComparison.Ordinal);
            var index = cuda && device.Length > 5 ? int.Parse(device.AsSpan(5), CultureInfo.InvariantCulture) : 0;
            var module = torch.jit.load(options.Get("model"), cuda ? DeviceType.CUDA : DeviceType.CPU, cuda ? index : -1);
            module.eval();
            var input = torch.tensor(MemoryMarshal.Cast<byte, float>(inputs[0].Data).ToArray(), inputs[0].Shape, torch.ScalarType.Float32);
            if (cuda)
            {
                input = input.to(DeviceType.CUDA, index);
            }

            step = () =>
            {
                // The same per-thread intra-op setting the gateway's execution threads apply: without
                // it a worker thread forms an OpenMP team of one thread per core whatever --threads says,
                // and raw would be measured with more cores than the gateway it is compared with.
                TorchRuntime.ApplyThreadSettings();
                using var mode = torch.inference_mode();
                using var output = (torch.Tensor)module.forward(input);
                if (cuda)
                {
                    // The copy to the host waits for the GPU, so each step is complete work.
                    using var host = output.cpu();
                }

                return batch;
            };
            owner = module;
        }

        if (options.Get("hop", "false") == "true")
        {
            // Each step on a thread-pool thread, as request handlers run.
            var inner = step;
            step = () => Task.Run(inner).GetAwaiter().GetResult();
        }

        using (owner)
        {
            // --parallel N: N threads each running batches back to back (the counterpart of N concurrent requests).
            var parallel = options.Int("parallel", 1);
            long done = 0;
            var stop = false;
            var measuring = false;
            var latencies = new List<long>[parallel];
            var workers = new Thread[parallel];
            for (var w = 0; w < parallel; w++)
            {
                var mine = latencies[w] = [];
                workers[w] = new Thread(() =>
                {
                    while (!Volatile.Read(ref stop))
                    {
                        var t0 = Stopwatch.GetTimestamp();
                        var rows = step();
                        var elapsed = Stopwatch.GetTimestamp() - t0;
                        Interlocked.Add(ref done, rows);
                        if (Volatile.Read(ref measuring))
                        {
                            mine.Add(elapsed);
                        }
                    }
                });
                workers[w].Start();
            }

            // The warm-up lasts at least one whole step: a large batch's first run on a busy CPU can
            // take longer than the warm-up, and would otherwise fall into the first window.
            Thread.Sleep(TimeSpan.FromSeconds(options.Double("warmup", 2)));
            while (Interlocked.Read(ref done) == 0)
            {
                Thread.Sleep(10);
            }

            Volatile.Write(ref measuring, true);
            var rates = new List<double>();
            var clock = Stopwatch.StartNew();
            var last = Interlocked.Read(ref done);
            for (var s = 0; s < seconds; s++)
            {
                Thread.Sleep(1000);
                var now = Interlocked.Read(ref done);
                var elapsed = clock.Elapsed.TotalSeconds;
                clock.Restart();
                rates.Add((now - last) / elapsed);
                last = now;
            }

            Volatile.Write(ref measuring, false);
            Volatile.Write(ref stop, true);
            foreach (var worker in workers)
            {
                worker.Join();
            }

            Console.WriteLine($"raw {backend} {device} batch={batch} parallel={parallel}: {Windows.Summary(rates)}");
            Console.WriteLine(Windows.Leg("raw", $"backend={backend} device={device} model={Path.GetFileNameWithoutExtension(options.Get("model"))} batch={batch} parallel={parallel}", rates, latencies.SelectMany(static l => l).ToList()));
        }

        return 0;
    }

    /// <summary>
    /// TorchScript files carry no names or shapes: the ones the gateway's config declares for the
    /// reference models (scripts/gpu-check.sh writes the same), chosen by the file's name.
    /// </summary>
    private static ModelSignature TorchSignature(string model, List<InputData> inputs)
    {
        if (Path.GetFileName(model).StartsWith("bert_tiny", StringComparison.Ordinal))
        {
            return new ModelSignature(
                [new TensorSpec("input_ids", DataType.Int64, new TensorShape([-1, -1])), new TensorSpec("attention_mask", DataType.Int64, new TensorShape([-1, -1]))],
                [new TensorSpec("last_hidden_state", DataType.FP32, new TensorShape([-1, -1, 128]))]);
        }

        return new ModelSignature(
            [new TensorSpec("input", DataType.FP32, new TensorShape([-1, .. inputs[0].Shape[1..]]))],
            [new TensorSpec("logits", DataType.FP32, new TensorShape([-1, 1000]))]);
    }
}

internal static class Http
{
    public static async Task<int> RunAsync(Options options)
    {
        var url = options.Get("url").TrimEnd('/');
        var model = options.Get("model");
        var batch = options.Int("batch", 1);
        var concurrency = options.Int("concurrency", 1);
        var seconds = options.Int("seconds", 20);
        var inputs = InputData.Load(options, batch);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency + 1 }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(120) };
        var names = options.Get("inputs", string.Empty).Length > 0 ? await Check.InputNamesAsync(client, model) : [options.Get("input", "input")];
        var json = new StringBuilder("{\"inputs\":[");
        for (var i = 0; i < inputs.Count; i++)
        {
            json.Append(i > 0 ? "," : string.Empty).Append(CultureInfo.InvariantCulture,
                $"{{\"name\":\"{names[i]}\",\"datatype\":\"{inputs[i].Type.Name()}\",\"shape\":[{string.Join(",", inputs[i].Shape)}],\"parameters\":{{\"binary_data_size\":{inputs[i].Data.Length}}}}}");
        }

        var header = Encoding.UTF8.GetBytes(json.Append("],\"parameters\":{\"binary_data_output\":true}}").ToString());
        var body = header.Concat(inputs.SelectMany(static i => i.Data)).ToArray();
        var path = $"/v2/models/{model}/infer";
        long completed = 0;
        long failed = 0;
        var measuring = false;
        using var stop = new CancellationTokenSource();
        var latencies = new List<long>[concurrency];
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var mine = latencies[w] = [];
            workers[w] = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                    content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
                    using var response = await client.PostAsync(path, content);
                    await response.Content.ReadAsByteArrayAsync();
                    var elapsed = Stopwatch.GetTimestamp() - t0;
                    Interlocked.Increment(ref response.IsSuccessStatusCode ? ref completed : ref failed);
                    if (Volatile.Read(ref measuring) && response.IsSuccessStatusCode)
                    {
                        mine.Add(elapsed);
                    }
                }
            });
        }

        var rates = new List<double>();
        await Task.Delay(TimeSpan.FromSeconds(options.Double("warmup", 2)));
        while (Interlocked.Read(ref completed) + Interlocked.Read(ref failed) == 0)
        {
            await Task.Delay(10);
        }

        Volatile.Write(ref measuring, true);
        var before = await CountsAsync(client, model);
        var clock = Stopwatch.StartNew();
        var last = Interlocked.Read(ref completed);
        for (var s = 0; s < seconds; s++)
        {
            await Task.Delay(1000);
            var now = Interlocked.Read(ref completed);
            var elapsed = clock.Elapsed.TotalSeconds;
            clock.Restart();
            rates.Add((now - last) * batch / elapsed);
            last = now;
        }

        var after = await CountsAsync(client, model);
        Volatile.Write(ref measuring, false);
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        var executions = after.Executions - before.Executions;
        var formed = executions > 0 ? (after.Inferences - before.Inferences) / (double)executions : 0;
        Console.WriteLine($"http {model} batch={batch} concurrency={concurrency}: {Windows.Summary(rates)}; {Interlocked.Read(ref failed)} failed");
        Console.WriteLine(Windows.Leg("http", $"model={model} batch={batch} concurrency={concurrency}", rates, [.. latencies.SelectMany(static l => l)])
            + string.Create(CultureInfo.InvariantCulture, $" batch_formed={formed:F2} failed={Interlocked.Read(ref failed)}"));
        return Interlocked.Read(ref failed) == 0 ? 0 : 1;
    }

    /// <summary>The model's inference and execution counts (Triton's statistics extension), summed over versions.</summary>
    private static async Task<(long Inferences, long Executions)> CountsAsync(HttpClient client, string model)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync($"/v2/models/{model}/stats"));
        long inferences = 0, executions = 0;
        foreach (var version in document.RootElement.GetProperty("model_stats").EnumerateArray())
        {
            inferences += version.GetProperty("inference_count").GetInt64();
            executions += version.GetProperty("execution_count").GetInt64();
        }

        return (inferences, executions);
    }
}

internal static class Check
{
    private static readonly string[] s_models = ["identity", "add_sub", "mlp", "mobilenet_v2", "bert_tiny"];

    public static async Task<int> RunAsync(Options options)
    {
        var url = options.Get("url").TrimEnd('/');
        var fixtures = options.Get("fixtures");
        var suffix = options.Get("suffix", string.Empty);
        var tolerance = double.Parse(options.Get("tolerance", "1e-4"), CultureInfo.InvariantCulture);
        using var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(120) };
        var failures = 0;
        foreach (var model in s_models)
        {
            for (var k = 0; k < 4; k++)
            {
                var stem = Path.Combine(fixtures, $"{model}.s{k}");
                var inputs = new List<(string Type, string Shape, byte[] Data)>();
                for (var i = 0; File.Exists($"{stem}.in{i}.bin"); i++)
                {
                    inputs.Add(Read($"{stem}.in{i}"));
                }

                var expected = Read($"{stem}.out");
                var names = await InputNamesAsync(client, model + suffix);
                var json = new StringBuilder("{\"inputs\":[");
                for (var i = 0; i < inputs.Count; i++)
                {
                    json.Append(i > 0 ? "," : string.Empty).Append(CultureInfo.InvariantCulture,
                        $"{{\"name\":\"{names[i]}\",\"datatype\":\"{inputs[i].Type}\",\"shape\":[{inputs[i].Shape}],\"parameters\":{{\"binary_data_size\":{inputs[i].Data.Length}}}}}");
                }

                var header = Encoding.UTF8.GetBytes(json.Append("],\"parameters\":{\"binary_data_output\":true}}").ToString());
                var body = header.Concat(inputs.SelectMany(i => i.Data)).ToArray();
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
                using var response = await client.PostAsync($"/v2/models/{model}{suffix}/infer", content);
                var bytes = await response.Content.ReadAsByteArrayAsync();
                if (!response.IsSuccessStatusCode)
                {
                    Console.WriteLine($"FAIL {model}{suffix}.s{k}: {(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}");
                    failures++;
                    continue;
                }

                var jsonLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").First(), CultureInfo.InvariantCulture);
                using var document = JsonDocument.Parse(bytes.AsMemory(0, jsonLength));
                var first = document.RootElement.GetProperty("outputs")[0];
                var size = first.GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
                var actual = Values(first.GetProperty("datatype").GetString()!, bytes.AsSpan(jsonLength, size));
                var reference = Values(expected.Type, expected.Data);
                var diff = actual.Length == reference.Length ? actual.Zip(reference, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max() : double.PositiveInfinity;
                var ok = diff <= tolerance;
                failures += ok ? 0 : 1;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(ok ? "ok  " : "FAIL")} {model}{suffix}.s{k}: max abs diff {diff:G3} (tolerance {tolerance:G3})"));
            }
        }

        Console.WriteLine($"check {url} {suffix}: {20 - failures} of 20 samples within tolerance");
        return failures == 0 ? 0 : 1;
    }

    public static async Task<string[]> InputNamesAsync(HttpClient client, string model)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync($"/v2/models/{model}"));
        return document.RootElement.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToArray();
    }

    public static (string Type, string Shape, byte[] Data) Read(string stem)
    {
        var type = File.ReadAllText(stem + ".dtype").Trim() switch
        {
            "float32" => "FP32",
            "int32" => "INT32",
            "int64" => "INT64",
            var other => throw new NotSupportedException(other),
        };
        return (type, File.ReadAllText(stem + ".shape").Trim(), File.ReadAllBytes(stem + ".bin"));
    }

    private static double[] Values(string type, ReadOnlySpan<byte> data)
    {
        var size = type is "INT64" or "FP64" ? 8 : 4;
        var values = new double[data.Length / size];
        for (var i = 0; i < values.Length; i++)
        {
            var item = data.Slice(i * size, size);
            values[i] = type switch
            {
                "FP32" => BinaryPrimitives.ReadSingleLittleEndian(item),
                "INT32" => BinaryPrimitives.ReadInt32LittleEndian(item),
                "INT64" => BinaryPrimitives.ReadInt64LittleEndian(item),
                _ => BinaryPrimitives.ReadDoubleLittleEndian(item),
            };
        }

        return values;
    }
}
