using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.Testing;

/// <summary>Builds V2 infer request bodies from reference samples.</summary>
public static class V2Requests
{
    public static string Json(Sample sample, bool binaryOutput = false)
    {
        var builder = new StringBuilder("{\"id\":\"").Append(sample).Append("\",\"inputs\":[");
        for (var i = 0; i < sample.Inputs.Length; i++)
        {
            var input = sample.Inputs[i];
            builder.Append(i > 0 ? "," : string.Empty)
                .Append("{\"name\":\"").Append(sample.InputNames[i])
                .Append("\",\"datatype\":\"").Append(input.DataType)
                .Append("\",\"shape\":[").Append(string.Join(",", input.Shape))
                .Append("],\"data\":").Append(input.JsonData()).Append('}');
        }

        builder.Append("],\"outputs\":[{\"name\":\"").Append(sample.OutputName).Append("\"");
        if (binaryOutput)
        {
            builder.Append(",\"parameters\":{\"binary_data\":true}");
        }

        return builder.Append("}]}").ToString();
    }

    public static string BinaryHeader(Sample sample)
    {
        var builder = new StringBuilder("{\"inputs\":[");
        for (var i = 0; i < sample.Inputs.Length; i++)
        {
            var input = sample.Inputs[i];
            builder.Append(i > 0 ? "," : string.Empty)
                .Append("{\"name\":\"").Append(sample.InputNames[i])
                .Append("\",\"datatype\":\"").Append(input.DataType)
                .Append("\",\"shape\":[").Append(string.Join(",", input.Shape))
                .Append("],\"parameters\":{\"binary_data_size\":").Append(input.Data.Length).Append("}}");
        }

        return builder.Append("],\"parameters\":{\"binary_data_output\":true}}").ToString();
    }

    /// <summary>The values of a JSON output's <c>data</c> array.</summary>
    public static double[] Data(JsonElement output) =>
        output.GetProperty("data").EnumerateArray().Select(e => e.GetDouble()).ToArray();

    public static long[] Shape(JsonElement output) =>
        output.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();

    public static JsonElement Output(JsonDocument response, string name) =>
        response.RootElement.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == name);
}
