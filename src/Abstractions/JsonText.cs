using System.Buffers;
using System.Text;
using System.Text.Unicode;
using System.Text.Json;

namespace Gateway.Protocol;

/// <summary>
/// JSON strings that do not decode to text. <see cref="Utf8JsonReader"/> accepts
/// <c>"\udc00"</c> (well-formed JSON: four hex digits) and bytes that are not UTF-8 inside a
/// string, but throws <see cref="InvalidOperationException"/> when asked to decode them
/// (<c>GetString</c>, <c>CopyString</c>, <c>ValueTextEquals</c> on escaped text), since neither
/// has a UTF-16 form. Every parser that faces the network checks an escaped token here before it
/// decodes or compares it, and names the field in its error.
/// </summary>
public static class JsonText
{
    /// <summary>Longest text echoed from a request into an error message.</summary>
    public const int MaxEcho = 64;

    /// <summary>
    /// Why the current string or member-name token is not text, or null when it decodes: bytes
    /// that are not UTF-8 (the reader does not check them until something decodes the token), or
    /// a <c>\u</c> escape that encodes a lone surrogate.
    /// </summary>
    public static string? Problem(ref Utf8JsonReader reader)
    {
        ReadOnlySpan<byte> raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan;
        if (!Utf8.IsValid(raw))
        {
            return NotUtf8(raw);
        }

        return reader.ValueIsEscaped && FindLoneSurrogate(raw) is { } escape ? Why(escape) : null;
    }

    /// <summary>The first lone surrogate escape of the current token, as written; null if none (always, if unescaped).</summary>
    public static string? LoneSurrogate(ref Utf8JsonReader reader) =>
        reader.ValueIsEscaped ? FindLoneSurrogate(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan) : null;

    private static string NotUtf8(ReadOnlySpan<byte> raw)
    {
        var valid = 0;
        while (valid < raw.Length && Rune.DecodeFromUtf8(raw[valid..], out _, out var consumed) == OperationStatus.Done)
        {
            valid += consumed;
        }

        return $"byte 0x{raw[Math.Min(valid, raw.Length - 1)]:X2} at offset {valid} is not UTF-8";
    }

    /// <summary>
    /// The first <c>\u</c> escape in raw (still escaped) JSON string bytes that encodes a lone
    /// UTF-16 surrogate (a high one not followed by an escaped low one, or a low one alone), as
    /// written; null when every escape decodes. The reader has already checked the escapes' syntax.
    /// </summary>
    public static string? FindLoneSurrogate(ReadOnlySpan<byte> raw)
    {
        var i = raw.IndexOf((byte)'\\');
        while (i >= 0 && i + 1 < raw.Length)
        {
            if (raw[i + 1] != (byte)'u' || i + 6 > raw.Length)
            {
                // A two-character escape (\" \\ \/ \b \f \n \r \t): skip both characters.
                i = Next(raw, i + 2);
                continue;
            }

            var unit = Hex4(raw.Slice(i + 2, 4));
            if (unit is < 0xD800 or > 0xDFFF)
            {
                i = Next(raw, i + 6);
                continue;
            }

            if (unit >= 0xDC00
                || i + 12 > raw.Length
                || raw[i + 6] != (byte)'\\'
                || raw[i + 7] != (byte)'u'
                || Hex4(raw.Slice(i + 8, 4)) is < 0xDC00 or > 0xDFFF)
            {
                return Encoding.ASCII.GetString(raw.Slice(i, 6));
            }

            i = Next(raw, i + 12);
        }

        return null;
    }

    /// <summary>The message part for a lone surrogate: "\udc00 is a lone UTF-16 surrogate".</summary>
    public static string Why(string escape) => escape + " is a lone UTF-16 surrogate";

    /// <summary>
    /// The current string token's text for an error message, shortened to <see cref="MaxEcho"/>
    /// characters; as written (escapes kept) when it does not decode.
    /// </summary>
    public static string Text(ref Utf8JsonReader reader)
    {
        // Text that does not decode is shown as written, invalid bytes replaced (U+FFFD).
        var text = Problem(ref reader) is null ? reader.GetString() ?? string.Empty : Encoding.UTF8.GetString(reader.ValueSpan);
        return Shorten(text);
    }

    /// <summary>The current token for an error message: a string in quotes, a number or literal as written, or its kind.</summary>
    public static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => "\"" + Text(ref reader) + "\"",
        JsonTokenType.Number => Shorten(Encoding.UTF8.GetString(reader.ValueSpan)),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => reader.TokenType.ToString(),
    };

    /// <summary>
    /// Skips the value at the reader (as <see cref="Utf8JsonReader.Skip"/>) and returns why the
    /// first string or member name inside it that is not text is not, or null. Stops at the first.
    /// </summary>
    public static string? SkipChecked(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            return reader.TokenType == JsonTokenType.String ? Problem(ref reader) : null;
        }

        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && Problem(ref reader) is { } bad)
            {
                return bad;
            }
        }

        return null;
    }

    private static string Shorten(string text) => text.Length <= MaxEcho ? text : string.Concat(text.AsSpan(0, MaxEcho), "…");

    private static int Next(ReadOnlySpan<byte> raw, int from)
    {
        if (from >= raw.Length)
        {
            return -1;
        }

        var next = raw[from..].IndexOf((byte)'\\');
        return next < 0 ? -1 : from + next;
    }

    private static int Hex4(ReadOnlySpan<byte> digits)
    {
        var value = 0;
        foreach (var d in digits)
        {
            value = (value << 4) | d switch
            {
                >= (byte)'0' and <= (byte)'9' => d - '0',
                >= (byte)'a' and <= (byte)'f' => d - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => d - 'A' + 10,
                _ => 0,
            };
        }

        return value;
    }
}
