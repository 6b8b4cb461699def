using System.Text;
using System.Text.RegularExpressions;

namespace Flywheel.Structured;

/// <summary>
/// How the validator checks one <c>pattern</c> / <c>patternProperties</c> regex, in time linear in
/// the input: on .NET's non-backtracking engine (after <see cref="EcmaPattern"/>), or, for the
/// assertions that engine cannot run or runs with other semantics, on the compiled automaton of
/// <see cref="RegexCompiler"/>. Those assertions are a leading negative lookahead (the engine has
/// no lookaround) and word boundaries (the engine's <c>\b</c> counts Unicode letters as word
/// characters; ECMA-262's only ASCII ones). Immutable; safe to share between threads.
/// </summary>
internal sealed class PatternCheck
{
    /// <summary>States the automaton of one validator pattern may take (as a grammar compile's default budget).</summary>
    private const int MaxAutomatonStates = JsonSchemaCompileOptions.DefaultMaxStates;

    private readonly Regex? _regex;
    private readonly ByteDfa? _automaton;

    public PatternCheck(Regex regex) => _regex = regex;

    private PatternCheck(ByteDfa automaton) => _automaton = automaton;

    /// <summary>Whether the pattern finds a match in <paramref name="text"/> (a search, as JSON Schema's patterns are).</summary>
    public bool IsMatch(string text) =>
        _regex?.IsMatch(text) ?? _automaton!.Matches(Encoding.UTF8.GetBytes(text));

    /// <summary>The automaton check for a pattern that needs one, or null for the regex engine.</summary>
    public static PatternCheck? TryAutomaton(string pattern, string keyword, string pointer) =>
        NeedsAutomaton(pattern)
            ? new(RegexCompiler.Compile(pattern, keyword, pointer,
                new CompileBudget(MaxAutomatonStates, JsonSchemaCompileOptions.DefaultCompileTimeout, CancellationToken.None)))
            : null;

    /// <summary>Whether the pattern has a lookahead or a word boundary (outside character classes).</summary>
    private static bool NeedsAutomaton(string pattern)
    {
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\' when i + 1 < pattern.Length:
                    if (!inClass && pattern[i + 1] is 'b' or 'B')
                    {
                        return true;
                    }

                    i++;
                    break;
                case '[':
                    inClass = true;
                    break;
                case ']':
                    inClass = false;
                    break;
                case '(' when !inClass && i + 2 < pattern.Length && pattern[i + 1] == '?' && pattern[i + 2] is '!' or '=':
                    return true;
            }
        }

        return false;
    }
}
