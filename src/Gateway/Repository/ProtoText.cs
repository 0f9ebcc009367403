using System.Globalization;
using System.Text;

namespace Gateway.Repository;

/// <summary>
/// A value in protobuf text format: a scalar (identifier, number or string, kept as written) or a
/// nested message. Every value knows the line and column it started at, so a configuration error
/// can point at the place in the file.
/// </summary>
internal abstract record ProtoTextValue(int Line, int Column);

/// <summary>An identifier (<c>TYPE_FP32</c>, <c>true</c>), a number (<c>-1</c>, <c>1e-3</c>) or a string.</summary>
internal sealed record ProtoTextScalar(ProtoTextScalarKind Kind, string Text, int Line, int Column) : ProtoTextValue(Line, Column);

internal enum ProtoTextScalarKind
{
    Identifier,
    Number,
    String,
}

/// <summary>A message: its fields in file order; a repeated field appears once per value.</summary>
internal sealed record ProtoTextMessage(IReadOnlyList<ProtoTextField> Fields, int Line, int Column) : ProtoTextValue(Line, Column);

internal sealed record ProtoTextField(string Name, ProtoTextValue Value, int Line, int Column);

/// <summary>
/// Reads protobuf text format (what Triton's <c>config.pbtxt</c> is written in) into a tree,
/// without a schema: the caller decides what each field means. Supports what the format allows
/// and Triton's examples use: <c>#</c> comments, <c>name: value</c> and <c>name { ... }</c> (the
/// colon is optional before a message), <c>&lt; &gt;</c> as message brackets, lists
/// <c>[a, b]</c> of scalars or messages, adjacent strings concatenated, C escapes in strings, and
/// <c>,</c> or <c>;</c> after a field. Extension and <c>Any</c> fields (<c>[type.url]</c>) are
/// refused. Bounded: nesting deeper than <see cref="MaxDepth"/> is an error, not a stack overflow.
/// </summary>
internal ref struct ProtoTextReader
{
    public const int MaxDepth = 32;

    private readonly ReadOnlySpan<char> _text;
    private int _position;
    private int _line;
    private int _lineStart;

    private ProtoTextReader(ReadOnlySpan<char> text)
    {
        _text = text;
        _line = 1;
    }

    /// <summary>
    /// Parses a whole document. On failure returns null and an error of the form
    /// <c>line L, column C: reason</c>.
    /// </summary>
    public static ProtoTextMessage? Parse(ReadOnlySpan<char> text, out string error)
    {
        var reader = new ProtoTextReader(text);
        try
        {
            var message = reader.ReadFields(closing: '\0', depth: 0, line: 1, column: 1);
            error = "";
            return message;
        }
        catch (ProtoTextException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    private int Column => _position - _lineStart + 1;

    private ProtoTextMessage ReadFields(char closing, int depth, int line, int column)
    {
        var fields = new List<ProtoTextField>();
        while (true)
        {
            SkipWhitespaceAndComments();
            if (_position >= _text.Length)
            {
                if (closing != '\0')
                {
                    throw Error($"the message opened at line {line}, column {column} is not closed (expected '{closing}')");
                }

                return new ProtoTextMessage(fields, line, column);
            }

            var c = _text[_position];
            if (c == closing)
            {
                _position++;
                return new ProtoTextMessage(fields, line, column);
            }

            if (c is '}' or '>')
            {
                throw Error($"unexpected '{c}'");
            }

            ReadField(fields, depth);

            SkipWhitespaceAndComments();
            if (_position < _text.Length && _text[_position] is ',' or ';')
            {
                _position++;
            }
        }
    }

    private void ReadField(List<ProtoTextField> fields, int depth)
    {
        var line = _line;
        var column = Column;
        if (_text[_position] == '[')
        {
            throw Error("extension and Any fields ('[type.name]') are not supported");
        }

        if (!IsIdentifierStart(_text[_position]))
        {
            throw Error($"expected a field name, found {Describe(_position)}");
        }

        var name = ReadIdentifier();
        SkipWhitespaceAndComments();
        var colon = false;
        if (_position < _text.Length && _text[_position] == ':')
        {
            colon = true;
            _position++;
            SkipWhitespaceAndComments();
        }

        if (_position >= _text.Length)
        {
            throw Error($"field '{name}' has no value");
        }

        var c = _text[_position];
        if (c == '[')
        {
            _position++;
            ReadList(name, fields, depth, line, column);
            return;
        }

        if (c is '{' or '<')
        {
            fields.Add(new ProtoTextField(name, ReadMessage(depth), line, column));
            return;
        }

        if (!colon)
        {
            throw Error($"expected ':' or '{{' after field '{name}', found {Describe(_position)}");
        }

        fields.Add(new ProtoTextField(name, ReadScalar(name), line, column));
    }

    private void ReadList(string name, List<ProtoTextField> fields, int depth, int line, int column)
    {
        SkipWhitespaceAndComments();
        if (_position < _text.Length && _text[_position] == ']')
        {
            _position++;
            return;
        }

        while (true)
        {
            SkipWhitespaceAndComments();
            if (_position >= _text.Length)
            {
                throw Error($"the list of field '{name}' is not closed (expected ']')");
            }

            var value = _text[_position] is '{' or '<' ? (ProtoTextValue)ReadMessage(depth) : ReadScalar(name);
            fields.Add(new ProtoTextField(name, value, line, column));
            SkipWhitespaceAndComments();
            if (_position >= _text.Length)
            {
                throw Error($"the list of field '{name}' is not closed (expected ']')");
            }

            var c = _text[_position++];
            if (c == ']')
            {
                return;
            }

            if (c != ',')
            {
                _position--;
                throw Error($"expected ',' or ']' in the list of field '{name}', found {Describe(_position)}");
            }
        }
    }

    private ProtoTextMessage ReadMessage(int depth)
    {
        if (depth + 1 > MaxDepth)
        {
            throw Error($"messages are nested deeper than {MaxDepth} levels");
        }

        var line = _line;
        var column = Column;
        var closing = _text[_position] == '{' ? '}' : '>';
        _position++;
        return ReadFields(closing, depth + 1, line, column);
    }

    private ProtoTextScalar ReadScalar(string field)
    {
        var line = _line;
        var column = Column;
        var c = _text[_position];
        if (c is '"' or '\'')
        {
            var builder = new StringBuilder();
            do
            {
                ReadString(builder);
                SkipWhitespaceAndComments();
            }
            while (_position < _text.Length && _text[_position] is '"' or '\'');

            return new ProtoTextScalar(ProtoTextScalarKind.String, builder.ToString(), line, column);
        }

        if (c is '-' or '+' && _position + 1 < _text.Length && IsIdentifierStart(_text[_position + 1]))
        {
            // "-inf", "-nan" and friends.
            _position++;
            return new ProtoTextScalar(ProtoTextScalarKind.Identifier, c + ReadIdentifier(), line, column);
        }

        if (c is '-' or '+' or '.' || char.IsAsciiDigit(c))
        {
            var start = _position;
            _position++;
            while (_position < _text.Length && (char.IsAsciiLetterOrDigit(_text[_position]) || _text[_position] is '.' or '+' or '-' or '_'))
            {
                // An exponent's sign is part of the number; any other sign ends it.
                if (_text[_position] is '+' or '-' && _text[_position - 1] is not ('e' or 'E'))
                {
                    break;
                }

                _position++;
            }

            var text = _text[start.._position].ToString();
            if (text is "-" or "+" or ".")
            {
                throw Error($"field '{field}' has '{text}' without a number");
            }

            return new ProtoTextScalar(ProtoTextScalarKind.Number, text, line, column);
        }

        if (IsIdentifierStart(c))
        {
            return new ProtoTextScalar(ProtoTextScalarKind.Identifier, ReadIdentifier(), line, column);
        }

        throw Error($"field '{field}' has no valid value: found {Describe(_position)}");
    }

    private void ReadString(StringBuilder builder)
    {
        var quote = _text[_position++];
        while (true)
        {
            if (_position >= _text.Length || _text[_position] == '\n')
            {
                throw Error("a string is not closed on its line");
            }

            var c = _text[_position++];
            if (c == quote)
            {
                return;
            }

            if (c != '\\')
            {
                builder.Append(c);
                continue;
            }

            if (_position >= _text.Length)
            {
                throw Error("a string ends in the middle of an escape");
            }

            var e = _text[_position++];
            switch (e)
            {
                case 'n': builder.Append('\n'); break;
                case 't': builder.Append('\t'); break;
                case 'r': builder.Append('\r'); break;
                case 'a': builder.Append('\a'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'v': builder.Append('\v'); break;
                case '\\' or '\'' or '"' or '?': builder.Append(e); break;
                case 'x' or 'X':
                    builder.Append((char)ReadDigits(16, 2, minimum: 1));
                    break;
                case 'u':
                    builder.Append((char)ReadDigits(16, 4, minimum: 4));
                    break;
                case >= '0' and <= '7':
                    _position--;
                    builder.Append((char)ReadDigits(8, 3, minimum: 1));
                    break;
                default:
                    _position--;
                    throw Error($"unknown escape '\\{e}' in a string");
            }
        }
    }

    private int ReadDigits(int radix, int maximum, int minimum)
    {
        var value = 0;
        var count = 0;
        while (count < maximum && _position < _text.Length)
        {
            var digit = HexValue(_text[_position]);
            if (digit < 0 || digit >= radix)
            {
                break;
            }

            value = value * radix + digit;
            _position++;
            count++;
        }

        if (count < minimum)
        {
            throw Error("an escape in a string has too few digits");
        }

        return value;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    private string ReadIdentifier()
    {
        var start = _position;
        while (_position < _text.Length && (char.IsAsciiLetterOrDigit(_text[_position]) || _text[_position] is '_' or '.'))
        {
            _position++;
        }

        return _text[start.._position].ToString();
    }

    private static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c == '_';

    private void SkipWhitespaceAndComments()
    {
        while (_position < _text.Length)
        {
            var c = _text[_position];
            if (c == '\n')
            {
                _position++;
                _line++;
                _lineStart = _position;
            }
            else if (c is ' ' or '\t' or '\r' or '\f' or '\v')
            {
                _position++;
            }
            else if (c == '#')
            {
                while (_position < _text.Length && _text[_position] != '\n')
                {
                    _position++;
                }
            }
            else
            {
                return;
            }
        }
    }

    private string Describe(int position)
    {
        if (position >= _text.Length)
        {
            return "the end of the file";
        }

        var c = _text[position];
        return char.IsControl(c) || char.IsSurrogate(c)
            ? $"character U+{(int)c:X4}"
            : $"'{c}'";
    }

    private ProtoTextException Error(string reason) =>
        new(string.Create(CultureInfo.InvariantCulture, $"line {_line}, column {Column}: {reason}"));

    private sealed class ProtoTextException(string message) : Exception(message);
}
