namespace Flywheel.Models;

/// <summary>A model folder that cannot be used: the message names the file and, where it applies, the JSON field.</summary>
public sealed class ModelConfigException(string message, Exception? inner = null) : Exception(message, inner);
