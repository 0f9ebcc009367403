using System.Text;
using System.Text.Json;

namespace Gateway.FuzzTests;

/// <summary>
/// A JSON document kept as written: member names and strings keep their escapes, numbers their
/// text, and objects may hold a name twice. The mutators work on this tree, so they can produce
/// what System.Text.Json's own models cannot hold (duplicate keys, lone surrogate escapes,
/// numbers beyond any .NET type), and then <see cref="Write"/> it back to bytes.
/// </summary>
internal abstract class JNode
{
    public abstract JNode Clone();

    public abstract void Write(StringBuilder builder);

    public string Write()
    {
        var builder = new StringBuilder();
        Write(builder);
        return builder.ToString();
    }

    /// <summary>Parses well-formed JSON (the seeds), keeping the raw text of every token.</summary>
    public static JNode Parse(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 256 });
        reader.Read();
        return Read(ref reader);
    }

    private static JNode Read(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var obj = new JObject();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var name = Encoding.UTF8.GetString(reader.ValueSpan);
                    reader.Read();
                    obj.Members.Add(new JMember(name, Read(ref reader)));
                }

                return obj;
            case JsonTokenType.StartArray:
                var array = new JArray();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    array.Items.Add(Read(ref reader));
                }

                return array;
            case JsonTokenType.String:
                return new JRaw("\"" + Encoding.UTF8.GetString(reader.ValueSpan) + "\"");
            default:
                return new JRaw(Encoding.UTF8.GetString(reader.ValueSpan));
        }
    }
}

/// <summary>A member: the name as written between the quotes (escapes kept) and its value.</summary>
internal sealed class JMember(string name, JNode value)
{
    public string Name { get; set; } = name;

    public JNode Value { get; set; } = value;
}

internal sealed class JObject : JNode
{
    public List<JMember> Members { get; } = [];

    public override JNode Clone()
    {
        var copy = new JObject();
        foreach (var member in Members)
        {
            copy.Members.Add(new JMember(member.Name, member.Value.Clone()));
        }

        return copy;
    }

    public override void Write(StringBuilder builder)
    {
        builder.Append('{');
        for (var i = 0; i < Members.Count; i++)
        {
            builder.Append(i > 0 ? "," : string.Empty).Append('"').Append(Members[i].Name).Append("\":");
            Members[i].Value.Write(builder);
        }

        builder.Append('}');
    }
}

internal sealed class JArray : JNode
{
    public List<JNode> Items { get; } = [];

    public override JNode Clone()
    {
        var copy = new JArray();
        foreach (var item in Items)
        {
            copy.Items.Add(item.Clone());
        }

        return copy;
    }

    public override void Write(StringBuilder builder)
    {
        builder.Append('[');
        for (var i = 0; i < Items.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(',');
            }

            Items[i].Write(builder);
        }

        builder.Append(']');
    }
}

/// <summary>A number, literal or string (with its quotes), exactly as written.</summary>
internal sealed class JRaw(string text) : JNode
{
    public string Text { get; } = text;

    public bool IsString => Text.Length >= 2 && Text[0] == '"';

    public override JNode Clone() => this;

    public override void Write(StringBuilder builder) => builder.Append(Text);
}
