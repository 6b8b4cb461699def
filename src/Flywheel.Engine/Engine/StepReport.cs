namespace Flywheel.Execution;

/// <summary>
/// What one engine step did: tokens it fed, and the model Runs it took by kind (decode: decode rows alone;
/// chunk: a prompt chunk alone, or several first chunks right-padded into one; mixed: decodes and a chunk
/// in one Run of the mixed graph).
/// </summary>
public readonly record struct StepReport(int DecodeTokens, int ChunkTokens, int DecodeRuns, int ChunkRuns, int MixedRuns);
