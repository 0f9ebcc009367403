namespace Gateway.Abstractions.Tests;

public class TensorShapeTests
{
    [Fact]
    public void ElementCount_Multiplies()
    {
        var shape = new TensorShape([2, 3, 4]);
        Assert.True(shape.TryGetElementCount(long.MaxValue, out var count));
        Assert.Equal(24, count);
    }

    [Fact]
    public void ElementCount_ZeroDimension_IsZero()
    {
        var shape = new TensorShape([0, 1L << 40]);
        Assert.True(shape.TryGetElementCount(10, out var count));
        Assert.Equal(0, count);
    }

    [Fact]
    public void ElementCount_Overflow_Rejected()
    {
        var shape = new TensorShape([1L << 31, 1L << 31, 1L << 31]);
        Assert.False(shape.TryGetElementCount(long.MaxValue, out _));
        var limited = new TensorShape([1000, 1000]);
        Assert.False(limited.TryGetElementCount(999_999, out _));
        Assert.True(limited.TryGetElementCount(1_000_000, out _));
    }

    [Fact]
    public void ElementCount_VariableDimension_Rejected()
    {
        var shape = new TensorShape([-1, 16]);
        Assert.False(shape.TryGetElementCount(long.MaxValue, out _));
        Assert.True(shape.HasVariableDims);
    }

    [Theory]
    [InlineData(new long[] { 4, 16 }, new long[] { -1, 16 }, true)]
    [InlineData(new long[] { 4, 15 }, new long[] { -1, 16 }, false)]
    [InlineData(new long[] { 4, 16, 1 }, new long[] { -1, 16 }, false)]
    [InlineData(new long[] { 2, 8 }, new long[] { -1, -1 }, true)]
    [InlineData(new long[] { }, new long[] { }, true)]
    public void Matches_RespectsVariableDims(long[] concrete, long[] pattern, bool expected)
    {
        Assert.Equal(expected, new TensorShape(concrete).Matches(new TensorShape(pattern)));
    }

    [Fact]
    public void Rank_AboveMaximum_Rejected()
    {
        Assert.Throws<ArgumentException>(() => new TensorShape(new long[TensorShape.MaxRank + 1]));
        var shape = default(TensorShape);
        for (var i = 0; i < TensorShape.MaxRank; i++)
        {
            Assert.True(shape.TryAdd(1));
        }

        Assert.False(shape.TryAdd(1));
    }

    [Fact]
    public void Equality_AndText()
    {
        var a = new TensorShape([1, 3, 224, 224]);
        var b = default(TensorShape);
        foreach (var d in new long[] { 1, 3, 224, 224 })
        {
            b.TryAdd(d);
        }

        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, new TensorShape([1, 3, 224]));
        Assert.Equal("[1,3,224,224]", a.ToString());
        Assert.Equal(new long[] { 1, 3, 224, 224 }, a.ToArray());
    }
}
