using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>
/// The OpenAPI document and the docs page from the Native-AOT binary: the schema generator reads
/// only source-generated metadata there, so a type it could not see would come out empty.
/// </summary>
public class DocumentationTests
{
    [Fact]
    public async Task OpenApiDocument_FromTheAotBinary_HasEveryOperationAndFullSchemas()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository);
        await gateway.WaitReadyAsync();

        using var response = await gateway.Client.GetAsync("/openapi/v1.json");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var document = JsonDocument.Parse(text).RootElement;
        Assert.StartsWith("3.1", document.GetProperty("openapi").GetString());

        var operations = document.GetProperty("paths").EnumerateObject().Sum(p => p.Value.EnumerateObject().Count());
        Assert.True(operations >= 36, $"{operations} operations");
        var infer = document.GetProperty("paths").GetProperty("/v2/models/{model}/infer").GetProperty("post");
        Assert.Equal("worker", infer.GetProperty("x-required-role").GetString());

        // Every described type has its properties, and every $ref resolves.
        var schemas = document.GetProperty("components").GetProperty("schemas");
        foreach (var (name, property) in new[] { ("InferRequestBody", "inputs"), ("InferResponseBody", "outputs"), ("ErrorResponse", "error"), ("TokenResponse", "access_token"), ("StatisticsResponse", "model_stats"), ("ModelConfig", "max_batch_size") })
        {
            Assert.True(schemas.GetProperty(name).GetProperty("properties").TryGetProperty(property, out _), $"{name} has no '{property}' in the AOT binary's document");
        }

        foreach (var reference in References(document))
        {
            Assert.True(schemas.TryGetProperty(reference["#/components/schemas/".Length..], out _), $"{reference} does not resolve");
        }

        using var page = await gateway.Client.GetAsync("/docs");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<script>", await page.Content.ReadAsStringAsync());
    }

    private static IEnumerable<string> References(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "$ref" && property.Value.GetString() is { } reference && reference.StartsWith("#/components/schemas/", StringComparison.Ordinal))
                {
                    yield return reference;
                }

                foreach (var inner in References(property.Value))
                {
                    yield return inner;
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                foreach (var inner in References(item))
                {
                    yield return inner;
                }
            }
        }
    }
}
