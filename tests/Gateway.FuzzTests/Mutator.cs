using System.Text;
using CsCheck;

namespace Gateway.FuzzTests;

/// <summary>One mutation: which operation, and two numbers that pick where and what.</summary>
internal readonly record struct Mutation(int Op, uint Where, uint What)
{
    public override string ToString() => $"{Mutator.OpName(Op)}({Where},{What})";
}

/// <summary>
/// Structure-aware mutations of a JSON document (types, escapes, numbers, shapes, sizes, duplicate
/// keys, nesting) and of its bytes (truncation, insertion, invalid UTF-8). A case is a seed plus a
/// short list of mutations drawn by CsCheck, so a failure shrinks to the fewest, smallest ones.
/// </summary>
internal static class Mutator
{
    public const int TreeOps = 11;
    public const int ByteOps = 5;

    /// <summary>Mutations of the tree first, then of the written bytes, as CsCheck draws them.</summary>
    public static readonly Gen<Mutation> One = Gen.Select(Gen.Int[0, TreeOps + ByteOps - 1], Gen.UInt, Gen.UInt, static (op, where, what) => new Mutation(op, where, what));

    public static readonly Gen<Mutation[]> Some = One.Array[1, 6];

    private static readonly string[] s_opNames =
    [
        "replace", "duplicate", "remove", "rename", "move", "nest", "grow", "insert", "escape", "dims", "splice",
        "truncate", "flip", "token", "repeat", "badutf8",
    ];

    public static string OpName(int op) => (uint)op < (uint)s_opNames.Length ? s_opNames[op] : "op" + op;

    /// <summary>Values that sit on a boundary of some type or rule the parsers check.</summary>
    public static readonly string[] Values =
    [
        "0", "-0", "1", "-1", "2", "16", "1.5", "-1.5", "1e0", "1E+2", "0.1e-5",
        "127", "128", "-128", "-129", "255", "256", "32767", "32768", "-32769", "65504", "65520", "65535", "65536",
        "2147483647", "2147483648", "-2147483649", "4294967295", "4294967296", "9007199254740993",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
        "3.4028235e38", "3.5e38", "1e39", "-1e39", "1.7976931348623157e308", "1e400", "-1e400", "1e-400", "4.9e-324",
        "4294967294000", "4294967295000", "1000000000000000000", "33554431", "536870911", "268435455",
        "1" + new string('0', 400), "0." + new string('0', 400) + "1",
        "\"\"", "\"\\udc00\"", "\"\\ud800\"", "\"\\ud800\\udc00\"", "\"\\ud800\\u0041\"", "\"\\udbff\\udfff\"", "\"\\u0000\"",
        "\"\\\"\"", "\"\\\\\"", "\"\\/\"", "\"\\b\\f\\n\\r\\t\"", "\"é\"", "\"\\u00e9\"", "\"😀\"", "\"\\ud83d\\ude00\"",
        "\"FP32\"", "\"FP16\"", "\"BF16\"", "\"FP64\"", "\"INT64\"", "\"INT32\"", "\"UINT8\"", "\"BOOL\"", "\"BYTES\"", "\"fp32\"", "\"FP\\u0033\\u0032\"",
        "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"1e39\"", "\"1.5\"", "\"0x10\"",
        "\"INPUT0\"", "\"INPUT1\"", "\"OUTPUT0\"", "\"OUTPUT1\"", "\"input_ids\"", "\"attention_mask\"", "\"X\"", "\"Y\"",
        "\"HS256\"", "\"none\"", "\"k1\"", "\"admin\"", "\"worker\"", "\"viewer\"", "\"supervisor\"", "\"root\"",
        "\"" + new string('a', 300) + "\"", "\"" + string.Concat(Enumerable.Repeat("\\u0041", 200)) + "\"",
        "true", "false", "null",
        "[]", "{}", "[[]]", "[{}]", "[1]", "[-1]", "[0]", "[1,16]", "[0,16]", "[-1,16]", "[1,1,1,1,1,1,1,1,1]", "[\"a\"]", "[null]",
        "{\"binary_data_size\":64}", "{\"binary_data\":true}", "{\"priority\":1}", "{\"timeout\":1}", "{\"string_value\":\"1\"}",
    ];

    /// <summary>Member names the parsers look for, and names they must survive.</summary>
    public static readonly string[] Names =
    [
        "name", "datatype", "shape", "data", "parameters", "inputs", "outputs", "id",
        "binary_data_size", "binary_data", "binary_data_output", "priority", "timeout", "classification",
        "alg", "kid", "typ", "crit", "jku", "iss", "aud", "sub", "exp", "nbf", "iat", "jti", "sid", "sv", "role",
        "username", "password", "refresh_token", "current_password", "new_password", "disabled", "rate_limit", "per_second", "burst",
        "backend", "platform", "max_batch_size", "input", "output", "dims", "data_type", "instance_group", "count", "kind", "gpus",
        "dynamic_batching", "preferred_batch_size", "max_queue_delay_microseconds", "max_queue_size", "default_timeout_microseconds",
        "priority_levels", "default_priority_level", "version_policy", "latest", "num_versions", "specific", "versions", "all",
        "instance_count", "device", "default_model_filename", "access",
        "", "\\udc00", "\\ud800", "n\\u0061me", "\\u0000", "\\\"", "NAME", "data ", "😀",
    ];

    private static readonly byte[][] s_tokens =
    [
        [0], [0xFF], [0xC0, 0x80], [0x80], [0xED, 0xA0, 0x80], [0xEF, 0xBB, 0xBF], [0xF4, 0x90, 0x80, 0x80],
        "\""u8.ToArray(), "\\"u8.ToArray(), "{"u8.ToArray(), "}"u8.ToArray(), "["u8.ToArray(), "]"u8.ToArray(), ","u8.ToArray(),
        ":"u8.ToArray(), " "u8.ToArray(), "\n"u8.ToArray(), "/*"u8.ToArray(), "\\u"u8.ToArray(), "\\udc00"u8.ToArray(), "1e"u8.ToArray(),
        "-"u8.ToArray(), "NaN"u8.ToArray(), ",,"u8.ToArray(), "\r\n"u8.ToArray(),
    ];

    /// <summary>Applies the tree mutations to a copy of <paramref name="seed"/>, writes it, then applies the byte mutations.</summary>
    public static byte[] Apply(JNode seed, Mutation[] mutations)
    {
        var root = seed.Clone();
        foreach (var m in mutations)
        {
            if (m.Op < TreeOps)
            {
                root = ApplyTree(root, m);
            }
        }

        var bytes = Encoding.UTF8.GetBytes(root.Write());
        foreach (var m in mutations)
        {
            if (m.Op >= TreeOps)
            {
                bytes = ApplyBytes(bytes, m);
            }
        }

        return bytes;
    }

    /// <summary>A place in the tree: the root, a member of an object, or an item of an array.</summary>
    private readonly record struct Slot(JNode Node, JObject? Object, JArray? Array, int Index);

    private static List<Slot> Slots(JNode root)
    {
        var slots = new List<Slot> { new(root, null, null, -1) };
        for (var i = 0; i < slots.Count && slots.Count < 5000; i++)
        {
            switch (slots[i].Node)
            {
                case JObject o:
                    for (var m = 0; m < o.Members.Count; m++)
                    {
                        slots.Add(new Slot(o.Members[m].Value, o, null, m));
                    }

                    break;
                case JArray a:
                    // Long data arrays: a few items stand for the rest.
                    for (var n = 0; n < a.Items.Count && n < 8; n++)
                    {
                        slots.Add(new Slot(a.Items[n], null, a, n));
                    }

                    break;
            }
        }

        return slots;
    }

    private static JNode Set(JNode root, Slot slot, JNode value)
    {
        if (slot.Object is not null)
        {
            slot.Object.Members[slot.Index].Value = value;
            return root;
        }

        if (slot.Array is not null)
        {
            slot.Array.Items[slot.Index] = value;
            return root;
        }

        return value;
    }

    private static readonly JNode[] s_values = Values.Select(JNode.Parse).ToArray();

    private static JNode Pick(uint what) => s_values[what % (uint)s_values.Length].Clone();

    private static JNode ApplyTree(JNode root, Mutation m)
    {
        var slots = Slots(root);
        var slot = slots[(int)(m.Where % (uint)slots.Count)];
        switch (m.Op)
        {
            case 0: // replace a value with a boundary value of some type
                return Set(root, slot, Pick(m.What));
            case 1: // duplicate a member or an item
                if (slot.Object is not null)
                {
                    var member = slot.Object.Members[slot.Index];
                    slot.Object.Members.Insert(slot.Index + (int)(m.What % 2), new JMember(member.Name, member.Value.Clone()));
                }
                else if (slot.Array is not null)
                {
                    slot.Array.Items.Insert(slot.Index, slot.Node.Clone());
                }

                return root;
            case 2: // remove a member or an item
                if (slot.Object is not null)
                {
                    slot.Object.Members.RemoveAt(slot.Index);
                }
                else if (slot.Array is not null)
                {
                    slot.Array.Items.RemoveAt(slot.Index);
                }

                return root;
            case 3: // rename a member: another known name, an escaped form, a lone surrogate
                if (slot.Object is not null)
                {
                    slot.Object.Members[slot.Index].Name = m.What % 4 == 0
                        ? Escape(slot.Object.Members[slot.Index].Name)
                        : Names[m.What % (uint)Names.Length];
                }

                return root;
            case 4: // move a member to another position
                if (slot.Object is not null && slot.Object.Members.Count > 1)
                {
                    var member = slot.Object.Members[slot.Index];
                    slot.Object.Members.RemoveAt(slot.Index);
                    slot.Object.Members.Insert((int)(m.What % (uint)(slot.Object.Members.Count + 1)), member);
                }

                return root;
            case 5: // nest a value in arrays or objects, up to past the readers' depth limits
                var depth = 1 + (int)(m.What % 80);
                JNode nested = slot.Node;
                for (var d = 0; d < depth; d++)
                {
                    if ((m.What >> 8) % 2 == 0)
                    {
                        var array = new JArray();
                        array.Items.Add(nested);
                        nested = array;
                    }
                    else
                    {
                        var obj = new JObject();
                        obj.Members.Add(new JMember("a", nested));
                        nested = obj;
                    }
                }

                return Set(root, slot, nested);
            case 6: // grow an array (data longer than its shape, shapes of many dims)
                if (slot.Node is JArray grow)
                {
                    var item = grow.Items.Count > 0 ? grow.Items[^1] : Pick(m.What);
                    var count = (int)(m.What % 300);
                    for (var i = 0; i < count; i++)
                    {
                        grow.Items.Add(item.Clone());
                    }
                }
                else if (slot.Array is not null)
                {
                    slot.Array.Items.Add(slot.Node.Clone());
                }

                return root;
            case 7: // add a known member with a boundary value
                var target = slot.Node as JObject ?? slot.Object;
                target?.Members.Insert((int)(m.What % (uint)(target.Members.Count + 1)), new JMember(Names[m.Where % (uint)Names.Length], Pick(m.What >> 3)));
                return root;
            case 8: // escapes in a string: all characters escaped, or a lone surrogate inserted
                if (slot.Node is JRaw { IsString: true } text)
                {
                    var inner = text.Text[1..^1];
                    var escaped = (m.What % 3) switch
                    {
                        0 => Escape(inner),
                        1 => inner.Insert((int)(m.What % (uint)(inner.Length + 1)), "\\udc00"),
                        _ => inner + "\\ud800",
                    };
                    return Set(root, slot, new JRaw("\"" + escaped + "\""));
                }

                return root;
            case 9: // an array's items become boundary numbers (shapes and dims)
                if (slot.Node is JArray dims)
                {
                    for (var i = 0; i < dims.Items.Count; i++)
                    {
                        dims.Items[i] = Pick((m.What + (uint)i) % 53);
                    }
                }

                return root;
            default: // splice: a value is replaced by a copy of another part of the document
                var other = slots[(int)(m.What % (uint)slots.Count)].Node;
                return ReferenceEquals(other, slot.Node) ? root : Set(root, slot, other.Clone());
        }
    }

    private static byte[] ApplyBytes(byte[] bytes, Mutation m)
    {
        if (bytes.Length == 0)
        {
            return bytes;
        }

        var at = (int)(m.Where % (uint)bytes.Length);
        switch (m.Op - TreeOps)
        {
            case 0: // truncate
                return bytes[..at];
            case 1: // flip a bit
                var flipped = (byte[])bytes.Clone();
                flipped[at] ^= (byte)(1 << (int)(m.What % 8));
                return flipped;
            case 2: // insert a structural token or a byte that is not UTF-8
                return [.. bytes[..at], .. s_tokens[m.What % (uint)s_tokens.Length], .. bytes[at..]];
            case 3: // repeat a chunk
                var length = Math.Min(bytes.Length - at, 1 + (int)(m.What % 64));
                return [.. bytes[..(at + length)], .. bytes[at..(at + length)], .. bytes[(at + length)..]];
            default: // overwrite with bytes that are not UTF-8
                var bad = (byte[])bytes.Clone();
                bad[at] = (byte)(0x80 + (m.What % 0x80));
                return bad;
        }
    }

    /// <summary>Every character of a name or string as a \u escape (valid; decodes to the same text).</summary>
    private static string Escape(string text)
    {
        var builder = new StringBuilder();
        foreach (var c in text)
        {
            builder.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }
}
