using NJsonSchema;
using NJsonSchema.References;

namespace Flywheel.Structured;

/// <summary>
/// NJsonSchema's reference resolver with its two ways out of the document closed: a file or URL
/// reference throws instead of reading a file or sending a request. <see cref="SchemaReferences"/>
/// refuses such references before loading; this is the second lock, for any path NJsonSchema
/// might take that the first one does not foresee.
/// </summary>
internal sealed class LocalReferenceResolver(JsonSchema root) : JsonReferenceResolver(new JsonSchemaAppender(root, new DefaultTypeNameGenerator()))
{
    /// <inheritdoc/>
    public override Task<IJsonReference> ResolveFileReferenceAsync(string filePath, CancellationToken cancellationToken = default) =>
        throw Refuse(filePath);

    /// <inheritdoc/>
    public override Task<IJsonReference> ResolveUrlReferenceAsync(string url, CancellationToken cancellationToken = default) =>
        throw Refuse(url);

    private static SchemaCompileException Refuse(string where) =>
        new("$ref", "#", $"'{where}' is outside the document: schemas are never fetched from a network or a file");
}
