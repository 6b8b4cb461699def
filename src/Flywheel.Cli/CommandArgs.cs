using System.Globalization;

namespace Flywheel.Cli;

/// <summary>A command-line mistake: printed with the command's usage, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Parsed <c>--name value</c> options and <c>--flag</c> switches of one subcommand. Every option the
/// user gave must be consumed by the command; <see cref="EnsureAllUsed"/> reports the rest as unknown,
/// so a typo never silently falls back to a default.
/// </summary>
internal sealed class CommandArgs
{
    private readonly Dictionary<string, List<string?>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private CommandArgs()
    {
    }

    /// <summary>Parses <paramref name="args"/>; names in <paramref name="flags"/> take no value.</summary>
    public static CommandArgs Parse(IReadOnlyList<string> args, params string[] flags)
    {
        var parsed = new CommandArgs();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}'");
            }

            var name = arg[2..];
            string? value = null;
            var eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (!flags.Contains(name))
            {
                if (i + 1 >= args.Count)
                {
                    throw new UsageException($"option --{name} needs a value");
                }

                value = args[++i];
            }

            // Repeats are kept; String() refuses them, Strings() (repeatable options) reads them all.
            if (!parsed._options.TryGetValue(name, out var values))
            {
                parsed._options[name] = values = [];
            }

            values.Add(value);
        }

        return parsed;
    }

    public bool Has(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public bool Flag(string name) => Has(name);

    public string? String(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var values))
        {
            return null;
        }

        return values.Count == 1 ? values[0] : throw new UsageException($"option --{name} given twice");
    }

    /// <summary>Every value of a repeatable option, in order (empty when not given).</summary>
    public IReadOnlyList<string> Strings(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out var values)
            ? values.Select(v => v ?? throw new UsageException($"option --{name} needs a value")).ToList()
            : [];
    }

    public string Required(string name) => String(name) ?? throw new UsageException($"missing required option --{name}");

    public int? Int(string name, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = String(name);
        if (s is null)
        {
            return null;
        }

        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
        {
            throw new UsageException($"--{name} must be an integer in [{min}, {max}], got '{s}'");
        }

        return v;
    }

    public double? Double(string name, double min = double.MinValue, double max = double.MaxValue)
    {
        var s = String(name);
        if (s is null)
        {
            return null;
        }

        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v) || v < min || v > max)
        {
            throw new UsageException($"--{name} must be a number in [{min}, {max}], got '{s}'");
        }

        return v;
    }

    /// <summary>Throws for any option the command did not ask about.</summary>
    public void EnsureAllUsed()
    {
        var unknown = _options.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}");
        }
    }
}
