using Flywheel.Models.Building;

namespace Flywheel.Engine.Tests.Models.Reference;

/// <summary>MatMulNBits' B read back as the op defines it, written here apart from the builder's quantizer.</summary>
internal static class MatMulNBitsWeights
{
    /// <summary>
    /// B as MatMulNBits computes with it: element [k, n] = (code - zeroPoint) * scale of its block, in double
    /// (exact: a 4-bit integer times a float). Without zero points (<paramref name="hasZeroPoints"/> false) it is 8.
    /// Returns [K, N] row-major.
    /// </summary>
    public static double[] Dequantize(ReadOnlySpan<byte> packed, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeroPoints, bool hasZeroPoints, int k, int n, int blockSize)
    {
        var blocks = Int4Quantizer.BlockCount(k, blockSize);
        var blob = blockSize / 2;
        var result = new double[(long)k * n];
        for (var col = 0; col < n; col++)
        {
            for (var row = 0; row < k; row++)
            {
                var b = row / blockSize;
                var i = row % blockSize;
                var code = packed[(int)((((long)col * blocks + b) * blob) + (i / 2))];
                code = (byte)((i & 1) == 0 ? code & 0xF : code >> 4);

                // Packed zero points: two per byte along the blocks of a column, rows of ceil(blocks / 2) bytes.
                var zp = Int4Quantizer.DefaultZeroPoint;
                if (hasZeroPoints)
                {
                    var z = zeroPoints[(col * ((blocks + 1) / 2)) + (b / 2)];
                    zp = (b & 1) == 0 ? z & 0xF : z >> 4;
                }

                result[((long)row * n) + col] = (code - zp) * (double)scales[(col * blocks) + b];
            }
        }

        return result;
    }
}
