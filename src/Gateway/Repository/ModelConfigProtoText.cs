using System.Globalization;
using System.Text.Json;

namespace Gateway.Repository;

/// <summary>
/// Turns a <c>config.pbtxt</c> (Triton's <c>ModelConfig</c> in protobuf text format) into the same
/// <see cref="ModelConfig"/> that <c>config.json</c> deserialises to, so that both share one
/// validation and one set of error texts. The text is checked against the fields the gateway
/// implements (Triton's <c>model_config.proto</c> names): an unknown field, a field of Triton's that
/// is not implemented, or a value of the wrong kind is an error naming its line and column. Each
/// field's place is kept in <see cref="ConfigLocations"/> so that the later checks can point at it.
/// </summary>
internal static class ModelConfigProtoText
{
    /// <summary>Reads a file; null and an error (<c>line L, column C: reason</c>, without the path) when unusable.</summary>
    public static ModelConfig? Read(string text, out ConfigLocations locations, out string error)
    {
        locations = new ConfigLocations();
        var root = ProtoTextReader.Parse(text, out error);
        if (root is null)
        {
            return null;
        }

        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (!TryWriteMessage(writer, root, s_modelConfig, "", "ModelConfig", locations, out error))
            {
                return null;
            }
        }

        try
        {
            return JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), ModelConfigJsonContext.Default.ModelConfig);
        }
        catch (JsonException ex)
        {
            // Not expected: every value was checked against its field's type above. Kept as an error
            // with the field's place rather than an exception, should the two ever disagree.
            var field = (ex.Path ?? "$").TrimStart('$').TrimStart('.');
            error = locations.Prefix(field) + $"{field}: {ex.Message}";
            return null;
        }
    }

    private enum FieldType
    {
        String,
        Int32,
        Int64,
        Bool,
        Enum,
        Message,
        Map,
    }

    /// <summary>One field of the schema: its type, whether it repeats, and for messages and maps the value's fields.</summary>
    private sealed record Field(FieldType Type, bool Repeated = false, Dictionary<string, Field>? Message = null, bool IntegerKey = false);

    private static readonly Dictionary<string, Field> s_tensor = new(StringComparer.Ordinal)
    {
        ["name"] = new(FieldType.String),
        ["data_type"] = new(FieldType.Enum),
        ["dims"] = new(FieldType.Int64, Repeated: true),
        ["reshape"] = new(FieldType.Message, Message: new(StringComparer.Ordinal) { ["shape"] = new(FieldType.Int64, Repeated: true) }),
        ["optional"] = new(FieldType.Bool),
        ["format"] = new(FieldType.Enum),
        ["label_filename"] = new(FieldType.String),
    };

    private static readonly Dictionary<string, Field> s_queuePolicy = new(StringComparer.Ordinal)
    {
        ["timeout_action"] = new(FieldType.Enum),
        ["default_timeout_microseconds"] = new(FieldType.Int64),
        ["allow_timeout_override"] = new(FieldType.Bool),
        ["max_queue_size"] = new(FieldType.Int32),
    };

    private static readonly Dictionary<string, Field> s_modelConfig = new(StringComparer.Ordinal)
    {
        ["name"] = new(FieldType.String),
        ["platform"] = new(FieldType.String),
        ["backend"] = new(FieldType.String),
        ["max_batch_size"] = new(FieldType.Int32),
        ["input"] = new(FieldType.Message, Repeated: true, Message: s_tensor),
        ["output"] = new(FieldType.Message, Repeated: true, Message: s_tensor),
        ["instance_group"] = new(FieldType.Message, Repeated: true, Message: new(StringComparer.Ordinal)
        {
            ["name"] = new(FieldType.String),
            ["count"] = new(FieldType.Int32),
            ["kind"] = new(FieldType.Enum),
            ["gpus"] = new(FieldType.Int32, Repeated: true),
        }),
        ["parameters"] = new(FieldType.Map, Message: new(StringComparer.Ordinal) { ["string_value"] = new(FieldType.String) }),
        ["dynamic_batching"] = new(FieldType.Message, Message: new(StringComparer.Ordinal)
        {
            ["preferred_batch_size"] = new(FieldType.Int32, Repeated: true),
            ["max_queue_delay_microseconds"] = new(FieldType.Int64),
            ["preserve_ordering"] = new(FieldType.Bool),
            ["priority_levels"] = new(FieldType.Int32),
            ["default_priority_level"] = new(FieldType.Int32),
            ["default_queue_policy"] = new(FieldType.Message, Message: s_queuePolicy),
            ["priority_queue_policy"] = new(FieldType.Map, Message: s_queuePolicy, IntegerKey: true),
        }),
        ["version_policy"] = new(FieldType.Message, Message: new(StringComparer.Ordinal)
        {
            ["latest"] = new(FieldType.Message, Message: new(StringComparer.Ordinal) { ["num_versions"] = new(FieldType.Int32) }),
            ["all"] = new(FieldType.Message, Message: new(StringComparer.Ordinal)),
            ["specific"] = new(FieldType.Message, Message: new(StringComparer.Ordinal) { ["versions"] = new(FieldType.Int64, Repeated: true) }),
        }),
        ["default_model_filename"] = new(FieldType.String),

        // The gateway's own fields (Triton has none of them): the same as in config.json.
        ["instance_count"] = new(FieldType.Int32),
        ["device"] = new(FieldType.String),
        ["access"] = new(FieldType.Message, Message: new(StringComparer.Ordinal)
        {
            ["roles"] = new(FieldType.String, Repeated: true),
            ["users"] = new(FieldType.String, Repeated: true),
        }),
    };

    /// <summary>
    /// Fields of Triton's <c>ModelConfig</c> that the gateway does not implement. Each could change
    /// what a model answers or how it is run, so each is an error, not a silent omission.
    /// </summary>
    private static readonly HashSet<string> s_tritonOnly = new(StringComparer.Ordinal)
    {
        "batch_input", "batch_output", "optimization", "sequence_batching", "ensemble_scheduling",
        "cc_model_filenames", "metric_tags", "model_warmup", "model_operations", "model_transaction_policy",
        "model_repository_agents", "response_cache", "runtime",
    };

    /// <summary>The gateway's earlier names that Triton spells differently, for the error's hint.</summary>
    private static readonly Dictionary<string, string> s_hints = new(StringComparer.Ordinal)
    {
        ["dynamic_batching.max_queue_size"] = "Triton has it as dynamic_batching.default_queue_policy.max_queue_size",
        ["dynamic_batching.default_timeout_microseconds"] = "Triton has it as dynamic_batching.default_queue_policy.default_timeout_microseconds",
    };

    private static bool TryWriteMessage(Utf8JsonWriter writer, ProtoTextMessage message, Dictionary<string, Field> schema, string path, string messageName, ConfigLocations locations, out string error)
    {
        // Group the fields by name in first-seen order: repeated fields may be written apart.
        var order = new List<string>();
        var byName = new Dictionary<string, List<ProtoTextField>>(StringComparer.Ordinal);
        foreach (var field in message.Fields)
        {
            var fieldPath = Join(path, field.Name);
            if (!schema.TryGetValue(field.Name, out var spec))
            {
                error = At(field) + Unknown(field.Name, fieldPath, messageName, path.Length == 0);
                return false;
            }

            if (!byName.TryGetValue(field.Name, out var list))
            {
                byName[field.Name] = list = [];
                order.Add(field.Name);
            }
            else if (!spec.Repeated && spec.Type != FieldType.Map)
            {
                error = At(field) + $"{fieldPath} is given twice (first at line {list[0].Line}); it takes one value";
                return false;
            }

            list.Add(field);
        }

        writer.WriteStartObject();
        foreach (var name in order)
        {
            var spec = schema[name];
            var fields = byName[name];
            var fieldPath = Join(path, name);
            locations.Add(fieldPath, fields[0].Line, fields[0].Column);
            writer.WritePropertyName(name);
            if (spec.Type == FieldType.Map)
            {
                if (!TryWriteMap(writer, fields, spec, fieldPath, locations, out error))
                {
                    return false;
                }

                continue;
            }

            if (spec.Repeated)
            {
                writer.WriteStartArray();
            }

            for (var i = 0; i < fields.Count; i++)
            {
                var itemPath = spec.Repeated ? $"{fieldPath}[{i.ToString(CultureInfo.InvariantCulture)}]" : fieldPath;
                var value = fields[i].Value;
                locations.Add(itemPath, value.Line, value.Column);
                if (!TryWriteValue(writer, value, spec, itemPath, name, locations, out error))
                {
                    return false;
                }
            }

            if (spec.Repeated)
            {
                writer.WriteEndArray();
            }
        }

        writer.WriteEndObject();
        error = "";
        return true;
    }

    /// <summary>A protobuf map: repeated <c>{ key: K value { ... } }</c> entries, written as one JSON object.</summary>
    private static bool TryWriteMap(Utf8JsonWriter writer, List<ProtoTextField> entries, Field spec, string path, ConfigLocations locations, out string error)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        writer.WriteStartObject();
        foreach (var entry in entries)
        {
            if (entry.Value is not ProtoTextMessage message)
            {
                error = At(entry.Value) + $"{path} needs entries of the form {{ key: ... value {{ ... }} }}";
                return false;
            }

            ProtoTextField? key = null;
            ProtoTextField? value = null;
            foreach (var field in message.Fields)
            {
                switch (field.Name)
                {
                    case "key" when key is null:
                        key = field;
                        break;
                    case "value" when value is null:
                        value = field;
                        break;
                    case "key" or "value":
                        error = At(field) + $"{path}: an entry gives '{field.Name}' twice";
                        return false;
                    default:
                        error = At(field) + $"{path}: an entry holds only 'key' and 'value' (found '{field.Name}')";
                        return false;
                }
            }

            if (key is null || value is null)
            {
                error = At(message) + $"{path}: an entry needs both a key and a value";
                return false;
            }

            if (key.Value is not ProtoTextScalar keyScalar
                || (spec.IntegerKey
                    ? keyScalar.Kind != ProtoTextScalarKind.Number || !uint.TryParse(keyScalar.Text, NumberStyles.None, CultureInfo.InvariantCulture, out _)
                    : keyScalar.Kind != ProtoTextScalarKind.String))
            {
                error = At(key.Value) + $"{path}: the key must be {(spec.IntegerKey ? "a priority level (an integer from 0)" : "a string in quotes")}";
                return false;
            }

            var entryPath = $"{path}.{keyScalar.Text}";
            if (seen.TryGetValue(keyScalar.Text, out var firstLine))
            {
                error = At(key) + $"{path}: the key '{keyScalar.Text}' is given twice (first at line {firstLine})";
                return false;
            }

            seen[keyScalar.Text] = key.Line;
            locations.Add(entryPath, key.Line, key.Column);
            writer.WritePropertyName(keyScalar.Text);
            if (value.Value is not ProtoTextMessage valueMessage)
            {
                error = At(value.Value) + $"{entryPath}: the value must be a message {{ ... }}";
                return false;
            }

            if (!TryWriteMessage(writer, valueMessage, spec.Message!, entryPath, path, locations, out error))
            {
                return false;
            }
        }

        writer.WriteEndObject();
        error = "";
        return true;
    }

    private static bool TryWriteValue(Utf8JsonWriter writer, ProtoTextValue value, Field spec, string path, string name, ConfigLocations locations, out string error)
    {
        error = "";
        if (spec.Type == FieldType.Message)
        {
            if (value is not ProtoTextMessage message)
            {
                error = At(value) + $"{path} must be a message {{ ... }}, not a single value";
                return false;
            }

            return TryWriteMessage(writer, message, spec.Message!, path, name, locations, out error);
        }

        if (value is not ProtoTextScalar scalar)
        {
            error = At(value) + $"{path} takes a value, not a message";
            return false;
        }

        switch (spec.Type)
        {
            case FieldType.String when scalar.Kind == ProtoTextScalarKind.String:
                writer.WriteStringValue(scalar.Text);
                return true;
            case FieldType.String:
                error = At(scalar) + $"{path} must be a string in quotes (got {scalar.Text})";
                return false;
            case FieldType.Enum when scalar.Kind == ProtoTextScalarKind.Identifier:
                writer.WriteStringValue(scalar.Text);
                return true;
            case FieldType.Enum:
                error = At(scalar) + $"{path} must be a name such as {EnumExample(name)}, without quotes (got {Quoted(scalar)})";
                return false;
            case FieldType.Bool when scalar.Text is "true" or "True" or "t" or "1":
                writer.WriteBooleanValue(true);
                return true;
            case FieldType.Bool when scalar.Text is "false" or "False" or "f" or "0":
                writer.WriteBooleanValue(false);
                return true;
            case FieldType.Bool:
                error = At(scalar) + $"{path} must be true or false (got {Quoted(scalar)})";
                return false;
            case FieldType.Int32 when scalar.Kind == ProtoTextScalarKind.Number && int.TryParse(scalar.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var small):
                writer.WriteNumberValue(small);
                return true;
            case FieldType.Int64 when scalar.Kind == ProtoTextScalarKind.Number && long.TryParse(scalar.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var large):
                writer.WriteNumberValue(large);
                return true;
            default:
                var range = spec.Type == FieldType.Int32 ? "a 32-bit integer" : "a 64-bit integer";
                error = At(scalar) + $"{path} must be {range} (got {Quoted(scalar)})";
                return false;
        }
    }

    private static string Unknown(string name, string path, string messageName, bool topLevel)
    {
        if (s_hints.TryGetValue(path, out var hint))
        {
            return $"{path} is not a field of dynamic_batching ({hint})";
        }

        if (topLevel && s_tritonOnly.Contains(name))
        {
            return $"{name} is a field of Triton's ModelConfig that this gateway does not implement (see docs/TRITON.md)";
        }

        return $"'{name}' is not a field of {messageName} that this gateway knows (see docs/TRITON.md)";
    }

    private static string EnumExample(string name) => name switch
    {
        "data_type" => "TYPE_FP32",
        "kind" => "KIND_CPU",
        "format" => "FORMAT_NCHW",
        "timeout_action" => "REJECT",
        _ => "NAME",
    };

    private static string Quoted(ProtoTextScalar scalar) =>
        scalar.Kind == ProtoTextScalarKind.String ? $"\"{scalar.Text}\"" : scalar.Text;

    private static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    private static string At(ProtoTextValue value) => ConfigLocations.Format(value.Line, value.Column);

    private static string At(ProtoTextField field) => ConfigLocations.Format(field.Line, field.Column);
}

/// <summary>
/// Where each field of a <c>config.pbtxt</c> was written, by path (<c>input[0].dims</c>,
/// <c>dynamic_batching.default_queue_policy.max_queue_size</c>, <c>parameters.KEY</c>), so that a
/// check made on the <see cref="ModelConfig"/> can name the line and column of what it refuses.
/// </summary>
internal sealed class ConfigLocations
{
    private readonly Dictionary<string, (int Line, int Column)> _places = new(StringComparer.Ordinal);

    public void Add(string path, int line, int column) => _places.TryAdd(path, (line, column));

    /// <summary>
    /// <c>line L, column C: </c> for the field, or for the nearest enclosing one written in the
    /// file (a check on a missing field points at its message); empty when none is.
    /// </summary>
    public string Prefix(string path)
    {
        while (path.Length > 0)
        {
            if (_places.TryGetValue(path, out var place))
            {
                return Format(place.Line, place.Column);
            }

            var cut = path.AsSpan().LastIndexOfAny('.', '[');
            path = cut < 0 ? "" : path[..cut];
        }

        return "";
    }

    public static string Format(int line, int column) =>
        string.Create(CultureInfo.InvariantCulture, $"line {line}, column {column}: ");
}
