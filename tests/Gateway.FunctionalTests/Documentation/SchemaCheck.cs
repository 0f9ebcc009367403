using System.Text.Json;

namespace Gateway.FunctionalTests.Documentation;

/// <summary>
/// Checks a JSON value against a schema of the OpenAPI document, for the parts the gateway's
/// document uses: <c>$ref</c>, <c>type</c> (one or several), <c>properties</c>, <c>required</c>,
/// <c>additionalProperties</c>, <c>items</c>. Enough to tell whether a documented shape is the
/// shape the server really sends.
/// </summary>
internal static class SchemaCheck
{
    public static List<string> Problems(JsonElement document, JsonElement schema, JsonElement value)
    {
        var problems = new List<string>();
        Check(document, schema, value, "$", problems, 0);
        return problems;
    }

    public static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        var guard = 0;
        while (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("$ref", out var reference) && guard++ < 16)
        {
            var target = document;
            foreach (var part in reference.GetString()!.TrimStart('#', '/').Split('/'))
            {
                Assert.True(target.TryGetProperty(part, out target), $"$ref {reference} does not resolve");
            }

            schema = target;
        }

        return schema;
    }

    private static void Check(JsonElement document, JsonElement schema, JsonElement value, string path, List<string> problems, int depth)
    {
        if (depth > 32)
        {
            return;
        }

        schema = Resolve(document, schema);
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (schema.TryGetProperty("type", out var type) && !Allows(type, value))
        {
            problems.Add($"{path}: {value.ValueKind} where the schema says {type}");
            return;
        }

        if (value.ValueKind == JsonValueKind.Object)
        {
            if (schema.TryGetProperty("required", out var required))
            {
                foreach (var name in required.EnumerateArray())
                {
                    if (!value.TryGetProperty(name.GetString()!, out _))
                    {
                        problems.Add($"{path}: required '{name}' is missing");
                    }
                }
            }

            var hasProperties = schema.TryGetProperty("properties", out var properties);
            schema.TryGetProperty("additionalProperties", out var additional);
            foreach (var property in value.EnumerateObject())
            {
                if (hasProperties && properties.TryGetProperty(property.Name, out var propertySchema))
                {
                    Check(document, propertySchema, property.Value, $"{path}.{property.Name}", problems, depth + 1);
                }
                else if (additional.ValueKind == JsonValueKind.False || (hasProperties && additional.ValueKind == JsonValueKind.Undefined))
                {
                    // Strict here: a property the schema does not list is a property the document does not tell readers about.
                    problems.Add($"{path}: '{property.Name}' is not in the schema");
                }
                else if (additional.ValueKind == JsonValueKind.Object)
                {
                    Check(document, additional, property.Value, $"{path}.{property.Name}", problems, depth + 1);
                }
            }
        }
        else if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                Check(document, items, item, $"{path}[{index++}]", problems, depth + 1);
            }
        }
    }

    private static bool Allows(JsonElement type, JsonElement value)
    {
        if (type.ValueKind == JsonValueKind.Array)
        {
            foreach (var one in type.EnumerateArray())
            {
                if (Allows(one.GetString()!, value))
                {
                    return true;
                }
            }

            return false;
        }

        return Allows(type.GetString()!, value);
    }

    private static bool Allows(string type, JsonElement value) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        _ => false,
    };
}
