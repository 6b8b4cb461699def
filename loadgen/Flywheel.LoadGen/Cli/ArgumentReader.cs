using System.Globalization;

namespace Flywheel.LoadGen.Cli;

/// <summary>
/// Splits "--name value", "--name=value" and bare "--flag" arguments, and parses values with
/// errors that name the option. Every option may appear once.
/// </summary>
internal sealed class ArgumentReader
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    public ArgumentReader(IReadOnlyList<string> args, IReadOnlySet<string> valueOptions, IReadOnlySet<string> flags)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new UsageException(arg == "-h" ? "use --help" : $"unexpected argument '{arg}'");
            }
            var equals = arg.IndexOf('=');
            var name = equals < 0 ? arg : arg[..equals];
            string? value;
            if (flags.Contains(name))
            {
                value = equals < 0 ? null : throw new UsageException($"{name} takes no value");
            }
            else if (valueOptions.Contains(name))
            {
                value = equals >= 0 ? arg[(equals + 1)..]
                    : i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i]
                    : throw new UsageException($"{name} needs a value");
            }
            else
            {
                throw new UsageException($"unknown option '{name}'");
            }
            if (!_values.TryAdd(name, value))
            {
                throw new UsageException($"{name} is given more than once");
            }
        }
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? String(string name) => _values.GetValueOrDefault(name);

    public int? Int(string name, int min, int max = int.MaxValue)
    {
        if (String(name) is not { } text)
        {
            return null;
        }
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"{name} must be an integer in [{min}, {max}], not '{text}'");
        }
        return value;
    }

    public double? Double(string name, double min, double max, bool allowInfinity = false)
    {
        if (String(name) is not { } text)
        {
            return null;
        }
        if (allowInfinity && text is "inf" or "infinity")
        {
            return double.PositiveInfinity;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < min || value > max)
        {
            throw new UsageException($"{name} must be a number in [{min}, {max}]{(allowInfinity ? " or 'inf'" : "")}, not '{text}'");
        }
        return value;
    }

    /// <summary>A duration in seconds: "2", "2s", "500ms", "1.5m"; must be at least <paramref name="minSeconds"/>.</summary>
    public double? Seconds(string name, double minSeconds)
    {
        if (String(name) is not { } text)
        {
            return null;
        }
        var (number, scale) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value * scale < minSeconds)
        {
            throw new UsageException($"{name} must be a duration of at least {minSeconds} s (e.g. 30, 500ms, 2m), not '{text}'");
        }
        return value * scale;
    }
}
