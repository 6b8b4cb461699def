namespace Flywheel.Models.Building;

/// <summary>
/// Symmetric round-to-nearest block quantization to 4 bits, as ONNX Runtime's MatMulNBits quantizer writes it
/// (the one ORT GenAI's model builder runs for int4 RTN): per column n and block of <c>blockSize</c> rows of
/// B [K, N], scale = -m / 8 where m is the block's value of largest magnitude, codes q = clamp(round(v / scale + 8),
/// 0, 15), so the largest value lands on -8 and the zero point is the op's default 8. No zero_points input.
/// </summary>
public static class Int4Quantizer
{
    /// <summary>The MatMulNBits zero point when the zero_points input is absent (4 bits).</summary>
    public const int DefaultZeroPoint = 8;

    /// <summary>
    /// Quantizes <paramref name="weight"/> ([K, N] row-major, the ONNX MatMul layout). Returns B as MatMulNBits
    /// reads it ([N, blocks, blockSize / 2] bytes, two codes a byte, the lower K index in the low nibble) and the
    /// scales ([N * blocks], n-major). Rows past K in the last block are zeros, as the quantizer pads them.
    /// </summary>
    public static (byte[] Packed, float[] Scales) Quantize(ReadOnlySpan<float> weight, int k, int n, int blockSize)
    {
        if (weight.Length != (long)k * n)
        {
            throw new ArgumentException($"weight has {weight.Length} elements, expected {k} x {n}", nameof(weight));
        }

        var blocks = BlockCount(k, blockSize);
        var blob = blockSize / 2;
        var packed = new byte[(long)n * blocks * blob];
        var scales = new float[n * blocks];
        for (var col = 0; col < n; col++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var start = b * blockSize;
                var end = Math.Min(start + blockSize, k);

                // min and max over the block (padding rows count as zeros), then the signed value of larger
                // magnitude; on a tie the minimum wins, as in the reference kernel.
                float min = float.MaxValue, max = -float.MaxValue;
                for (var row = start; row < start + blockSize; row++)
                {
                    var v = row < end ? weight[(row * n) + col] : 0f;
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }

                var extreme = MathF.Abs(max) > MathF.Abs(min) ? max : min;
                var scale = -extreme / 8f;
                var reciprocal = scale != 0 ? 1f / scale : 0f;
                scales[(col * blocks) + b] = scale;
                var baseIndex = ((long)col * blocks + b) * blob;
                for (var i = 0; i < blockSize; i++)
                {
                    var row = start + i;
                    var v = row < end ? weight[(row * n) + col] : 0f;

                    // MathF.Round with AwayFromZero is C's roundf.
                    var q = (byte)Math.Clamp(MathF.Round((v * reciprocal) + DefaultZeroPoint, MidpointRounding.AwayFromZero), 0f, 15f);
                    packed[baseIndex + (i / 2)] |= (byte)((i & 1) == 0 ? q : q << 4);
                }
            }
        }

        return (packed, scales);
    }

    /// <summary>Blocks along K: ceil(K / blockSize).</summary>
    public static int BlockCount(int k, int blockSize) => (k + blockSize - 1) / blockSize;
}
