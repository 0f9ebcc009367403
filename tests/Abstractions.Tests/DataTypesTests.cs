using System.Text;

namespace Gateway.Abstractions.Tests;

public class DataTypesTests
{
    [Theory]
    [InlineData("BOOL", DataType.Bool, 1)]
    [InlineData("UINT8", DataType.UInt8, 1)]
    [InlineData("UINT16", DataType.UInt16, 2)]
    [InlineData("UINT32", DataType.UInt32, 4)]
    [InlineData("UINT64", DataType.UInt64, 8)]
    [InlineData("INT8", DataType.Int8, 1)]
    [InlineData("INT16", DataType.Int16, 2)]
    [InlineData("INT32", DataType.Int32, 4)]
    [InlineData("INT64", DataType.Int64, 8)]
    [InlineData("FP16", DataType.FP16, 2)]
    [InlineData("BF16", DataType.BF16, 2)]
    [InlineData("FP32", DataType.FP32, 4)]
    [InlineData("FP64", DataType.FP64, 8)]
    [InlineData("BYTES", DataType.Bytes, 0)]
    public void TryParse_ProtocolNames_RoundTrip(string name, DataType expected, int size)
    {
        Assert.True(DataTypes.TryParse(Encoding.UTF8.GetBytes(name), out var fromUtf8));
        Assert.True(DataTypes.TryParse(name, out var fromString));
        Assert.True(DataTypes.TryParse("TYPE_" + name, out var fromConfig));
        Assert.Equal(expected, fromUtf8);
        Assert.Equal(expected, fromString);
        Assert.Equal(expected, fromConfig);
        Assert.Equal(name, expected.Name());
        Assert.Equal(size, expected.ElementSize());
    }

    [Fact]
    public void TryParse_TritonStringType_IsBytes()
    {
        Assert.True(DataTypes.TryParse("TYPE_STRING", out var type));
        Assert.Equal(DataType.Bytes, type);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("FLOAT")]
    [InlineData("")]
    [InlineData("FP3")]
    [InlineData("INVALID")]
    [InlineData("TYPE_")]
    public void TryParse_UnknownNames_Rejected(string name)
    {
        Assert.False(DataTypes.TryParse(Encoding.UTF8.GetBytes(name), out _));
        Assert.False(DataTypes.TryParse(name, out var type));
        Assert.Equal(DataType.Invalid, type);
    }
}
