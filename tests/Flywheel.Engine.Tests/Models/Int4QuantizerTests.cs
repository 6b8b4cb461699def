using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Models.Building;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// The builder's int4 weights read back (as MatMulNBits reads them) as the fp32 weights they replace, each within
/// half a step of its block's scale, with the block's value of largest magnitude exact (code 0, i.e. -8 * scale).
/// </summary>
public sealed class Int4QuantizerTests
{
    [Theory]
    [InlineData(64, 48, 32)]
    [InlineData(80, 5, 32)] // K not a multiple of the block: the last block is padded with zeros
    [InlineData(64, 3, 16)]
    public void DequantizedWeightsAreWithinHalfAStepOfTheOriginals(int k, int n, int blockSize)
    {
        var random = new Random(k * n);
        var weight = Enumerable.Range(0, k * n).Select(_ => (float)(random.NextDouble() - 0.3)).ToArray();
        var (packed, scales) = Int4Quantizer.Quantize(weight, k, n, blockSize);
        var blocks = Int4Quantizer.BlockCount(k, blockSize);
        Assert.Equal(n * blocks * blockSize / 2, packed.Length);
        Assert.Equal(n * blocks, scales.Length);

        var back = MatMulNBitsWeights.Dequantize(packed, scales, [], false, k, n, blockSize);
        for (var col = 0; col < n; col++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var scale = scales[(col * blocks) + b];
                var rows = Enumerable.Range(b * blockSize, Math.Min(blockSize, k - (b * blockSize)));
                var extreme = rows.Select(r => weight[(r * n) + col]).MaxBy(Math.Abs);
                Assert.Equal(-extreme / 8f, scale);
                foreach (var row in rows)
                {
                    var error = Math.Abs(back[(row * n) + col] - weight[(row * n) + col]);
                    Assert.True(error <= (Math.Abs(scale) / 2) + 1e-6, $"[{row}, {col}]: {weight[(row * n) + col]} came back as {back[(row * n) + col]} (scale {scale})");
                }

                var extremeRow = rows.First(r => weight[(r * n) + col] == extreme);
                Assert.Equal(extreme, back[(extremeRow * n) + col], 6);
            }
        }
    }

    [Fact]
    public void TwoCodesShareAByteLowerIndexInTheLowNibble()
    {
        // Block [-8s, 7s, 0, ...] with s = 1: codes 0, 15, 8, ... so the first byte is 0xF0 and the rest 0x88.
        var weight = new float[32];
        (weight[0], weight[1]) = (8f, -7f);
        var (packed, scales) = Int4Quantizer.Quantize(weight, 32, 1, 32);
        Assert.Equal(-1f, scales[0]);
        Assert.Equal(0xF0, packed[0]);
        Assert.All(packed[1..], b => Assert.Equal(0x88, b));
    }
}
