using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

/// <summary>
/// Bounds how deep one schema compile recurses. Reading, allOf merging and grammar building are
/// recursive over the schema, and references make that depth something a request controls; a
/// stack overflow cannot be caught in .NET and would kill the server with every request in it.
/// So every recursive step enters this guard: past <see cref="MaxDepth"/> levels, or when the
/// thread's stack runs short first (a small pool thread), the compile is refused with a
/// <see cref="SchemaCompileException"/> naming the limit, which the server answers with a 400.
/// One guard per compile; not thread-safe.
/// </summary>
internal sealed class NestingGuard
{
    /// <summary>
    /// Most nested steps (schema objects, references followed, allOf merges) one compile may take.
    /// The schema text itself nests at most 64 levels (System.Text.Json's default), so real schemas
    /// stay far below this; only reference chains and recursive merges get near it.
    /// </summary>
    public const int MaxDepth = 512;

    private int _depth;

    /// <summary>Steps one level deeper at <paramref name="pointer"/>; pair every call with <see cref="Exit"/>.</summary>
    public void Enter(string keyword, string pointer)
    {
        if (_depth >= MaxDepth)
        {
            throw TooDeep(keyword, pointer);
        }

        // Pool threads may have far less stack than the main thread: check the stack too, so the
        // depth limit above is never what stands between a request and a crash.
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw TooDeep(keyword, pointer);
        }

        _depth++;
    }

    /// <summary>Steps back one level.</summary>
    public void Exit() => _depth--;

    private static SchemaCompileException TooDeep(string keyword, string pointer) =>
        new(keyword, pointer, $"the schema nests deeper than the limit of {MaxDepth} levels (nested subschemas, $ref chains and allOf merges counted together)");
}
