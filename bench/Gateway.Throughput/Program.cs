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

// Images (rows) per second, as medians of one-second windows after a warm-up:
//   raw   --backend torch|onnx --model FILE [--batch 1] [--device cpu|cuda:N] [--shape 3,224,224] [--seconds 20] [--libtorch DIR] [--threads 0]
//         the model in this process, no HTTP: TorchSharp's forward on a ready input tensor, or
//         the ONNX backend's runner on a host tensor (what the gateway calls)
//   http  --url URL --model NAME [--batch 1] [--concurrency 1] [--shape 3,224,224] [--seconds 20]
//         binary-extension FP32 requests of one batch each against a running gateway
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
    public const double WarmupSeconds = 2;

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

internal static class Raw
{
    public static int Run(Options options)
    {
        var backend = options.Get("backend");
        var batch = options.Int("batch", 1);
        var seconds = options.Int("seconds", 20);
        var device = options.Get("device", "cpu");
        var shape = options.Shape(batch);
        var images = Windows.RandomImages(shape);
        Func<int> step;
        IDisposable owner;
        if (backend == "onnx")
        {
            var result = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "raw", Version = 1, ModelPath = options.Get("model"), Device = device });
            if (result.Error is { } error)
            {
                Console.Error.WriteLine(error.Message);
                return 1;
            }

            var runner = result.Runner!;
            var tensor = new Tensor(DataType.FP32, new TensorShape(shape), MemoryMarshal.AsBytes(images.AsSpan()).ToArray());
            var outputs = new[] { 0 };
            step = () =>
            {
                var run = runner.Run([tensor], outputs);
                run.Outputs!.Dispose();
                return batch;
            };
            owner = runner;
        }
        else if (options.Get("via", "torchsharp") == "runner")
        {
            // The Torch backend's own runner over a managed buffer: what the gateway calls, minus HTTP.
            var declared = new ModelSignature(
                [new TensorSpec("input", DataType.FP32, new TensorShape([-1, .. shape[1..]]))],
                [new TensorSpec("logits", DataType.FP32, new TensorShape([-1, 1000]))]);
            var torchBackend = new TorchBackend(new TorchBackendOptions { IntraOpThreads = options.Int("threads", 0) });
            var result = torchBackend.Load(new ModelLoadRequest { ModelName = "raw", Version = 1, ModelPath = options.Get("model"), Device = device, DeclaredSignature = declared });
            if (result.Error is { } error)
            {
                Console.Error.WriteLine(error.Message);
                return 1;
            }

            var runner = result.Runner!;
            var tensor = new Tensor(DataType.FP32, new TensorShape(shape), MemoryMarshal.AsBytes(images.AsSpan()).ToArray());
            var outputs = new[] { 0 };
            step = () =>
            {
                var run = runner.Run([tensor], outputs);
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

            var cuda = device.StartsWith("cuda", StringComparison.Ordinal);
            var index = cuda && device.Length > 5 ? int.Parse(device.AsSpan(5), CultureInfo.InvariantCulture) : 0;
            var module = torch.jit.load(options.Get("model"), cuda ? DeviceType.CUDA : DeviceType.CPU, cuda ? index : -1);
            module.eval();
            var input = torch.tensor(images, shape, torch.ScalarType.Float32);
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
            var workers = new Thread[parallel];
            for (var w = 0; w < parallel; w++)
            {
                workers[w] = new Thread(() =>
                {
                    while (!Volatile.Read(ref stop))
                    {
                        Interlocked.Add(ref done, step());
                    }
                });
                workers[w].Start();
            }

            Thread.Sleep(TimeSpan.FromSeconds(Windows.WarmupSeconds));
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

            Volatile.Write(ref stop, true);
            foreach (var worker in workers)
            {
                worker.Join();
            }

            Console.WriteLine($"raw {backend} {device} batch={batch} parallel={parallel}: {Windows.Summary(rates)}");
        }

        return 0;
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
        var shape = options.Shape(batch);
        var data = MemoryMarshal.AsBytes(Windows.RandomImages(shape).AsSpan()).ToArray();
        var header = Encoding.UTF8.GetBytes(
            $"{{\"inputs\":[{{\"name\":\"{options.Get("input", "input")}\",\"datatype\":\"FP32\",\"shape\":[{string.Join(",", shape)}],\"parameters\":{{\"binary_data_size\":{data.Length}}}}}],\"parameters\":{{\"binary_data_output\":true}}}}");
        var body = new byte[header.Length + data.Length];
        header.CopyTo(body, 0);
        data.CopyTo(body, header.Length);
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = new Uri(url) };
        var path = $"/v2/models/{model}/infer";
        long completed = 0;
        long failed = 0;
        using var stop = new CancellationTokenSource();
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                    content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
                    using var response = await client.PostAsync(path, content);
                    await response.Content.ReadAsByteArrayAsync();
                    Interlocked.Increment(ref response.IsSuccessStatusCode ? ref completed : ref failed);
                }
            });
        }

        var rates = new List<double>();
        await Task.Delay(TimeSpan.FromSeconds(Windows.WarmupSeconds));
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

        stop.Cancel();
        await Task.WhenAll(workers);
        Console.WriteLine($"http {model} batch={batch} concurrency={concurrency}: {Windows.Summary(rates)}; {Interlocked.Read(ref failed)} failed");
        return Interlocked.Read(ref failed) == 0 ? 0 : 1;
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

    private static async Task<string[]> InputNamesAsync(HttpClient client, string model)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync($"/v2/models/{model}"));
        return document.RootElement.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToArray();
    }

    private static (string Type, string Shape, byte[] Data) Read(string stem)
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
