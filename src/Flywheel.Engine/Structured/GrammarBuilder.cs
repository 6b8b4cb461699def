using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// Turns <see cref="SchemaNode"/>s into a recursive transition network over bytes: one rule for
/// the root, one per referenced definition, one for "any JSON value", and one per item schema that
/// repeats; everything else is inlined. Objects list the declared properties in declared order
/// (optional ones may be skipped), then pattern/additional properties.
/// </summary>
internal sealed partial class GrammarBuilder
{
    private readonly SchemaReader _reader;
    private readonly int _maxWhitespace;
    private readonly Dictionary<string, int> _refRules = new(StringComparer.Ordinal);
    private readonly Dictionary<SchemaNode, int> _nodeRules = new(ReferenceEqualityComparer.Instance);
    private readonly Queue<(int Rule, SchemaNode? Node, string? Target, string Pointer, int Depth)> _pending = new();
    private int _ruleDepth; // rules between the root and the one being built (reference nesting)
    private readonly Dictionary<SchemaNode, ByteDfa> _decodedStrings = new(ReferenceEqualityComparer.Instance);
    private int _anyObjectRule = -1;
    private int _anyArrayRule = -1;

    public GrammarBuilder(SchemaReader reader, int maxWhitespace, CompileBudget? budget = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWhitespace, JsonSchemaCompileOptions.UnboundedWhitespace);
        _reader = reader;
        _maxWhitespace = maxWhitespace;
        Nfa = new ByteNfa(budget);
    }

    /// <summary>The network under construction; its budget is the compile's.</summary>
    public ByteNfa Nfa { get; }

    /// <summary>Per rule: NFA start and end state; rule 0 is the root.</summary>
    public List<(int Start, int End, string Pointer)> Rules { get; } = [];

    /// <summary>Adds the root rule for <paramref name="root"/>.</summary>
    public void BuildRoot(SchemaNode root)
    {
        var rule = NewRule(root.Pointer);
        Nfa.AddEps(Value(root, Rules[rule].Start), Rules[rule].End);
        BuildPending();
    }

    /// <summary>Adds the root rule for "any JSON object".</summary>
    public void BuildAnyObjectRoot()
    {
        var rule = NewRule("#");
        Nfa.AddEps(ObjectBody(new SchemaNode { Pointer = "#", Types = JsonTypes.Object }, Rules[rule].Start), Rules[rule].End);
        BuildPending();
    }

    /// <summary>
    /// Builds the bodies of rules created since: a worklist, so a chain of references (each rule
    /// calling the next) costs a queue entry per link, not a stack frame.
    /// </summary>
    private void BuildPending()
    {
        while (_pending.TryDequeue(out var p))
        {
            _ruleDepth = p.Depth;
            var body = p.Node ?? _reader.Resolve(p.Target!, p.Pointer, requireBody: true)!;
            Nfa.AddEps(Value(body, Rules[p.Rule].Start), Rules[p.Rule].End);
        }
    }

    private int NewRule(string pointer)
    {
        Rules.Add((Nfa.AddState(), Nfa.AddState(), pointer));
        return Rules.Count - 1;
    }

    private int RuleForRef(string target, string pointer)
    {
        if (!_refRules.TryGetValue(target, out var rule))
        {
            rule = NewRule(target);
            _refRules[target] = rule;
            _pending.Enqueue((rule, null, target, pointer, NextRuleDepth("$ref", pointer)));
        }

        return rule;
    }

    private int RuleForNode(SchemaNode node)
    {
        if (!_nodeRules.TryGetValue(node, out var rule))
        {
            rule = NewRule(node.Pointer);
            _nodeRules[node] = rule;
            _pending.Enqueue((rule, node, null, node.Pointer, NextRuleDepth("items", node.Pointer)));
        }

        return rule;
    }

    /// <summary>
    /// Depth of a rule called from the one being built. Rules are built from a worklist, so this
    /// is no stack depth; it is bounded all the same, because a chain of references as long as the
    /// schema likes would make the grammar (and its compile) as big as the schema likes too.
    /// </summary>
    private int NextRuleDepth(string keyword, string pointer) =>
        _ruleDepth < NestingGuard.MaxDepth ? _ruleDepth + 1
        : throw new SchemaCompileException(keyword, pointer, $"references nest deeper than the limit of {NestingGuard.MaxDepth} levels");

    /// <summary>
    /// Any JSON value: scalars inline, containers as calls of the any-object / any-array rules.
    /// Keeping scalars inline matters for masks: a rule's end makes tokens that run past it
    /// depend on the caller, and those are checked one by one.
    /// </summary>
    private int AnyValue(int from)
    {
        if (_anyObjectRule < 0)
        {
            _anyObjectRule = NewRule("(any JSON object)");
            _anyArrayRule = NewRule("(any JSON array)");
            var (os, oe, _) = Rules[_anyObjectRule];
            Nfa.AddEps(ObjectBody(new SchemaNode { Pointer = "#", Types = JsonTypes.Object }, os), oe);
            var (xs, xe, _) = Rules[_anyArrayRule];
            Nfa.AddEps(ArrayBody(new SchemaNode { Pointer = "#", Types = JsonTypes.Array }, xs), xe);
        }

        var end = TypedValue(new SchemaNode { Pointer = "#", Types = JsonTypes.All & ~(JsonTypes.Object | JsonTypes.Array) }, from);
        Nfa.AddEps(Nfa.Call(from, _anyObjectRule), end);
        Nfa.AddEps(Nfa.Call(from, _anyArrayRule), end);
        return end;
    }

    /// <summary>Appends one instance of <paramref name="node"/> after <paramref name="from"/>; returns the end.</summary>
    public int Value(SchemaNode node, int from)
    {
        _reader.Guard.Enter("(schema)", node.Pointer);
        try
        {
            return ValueBody(node, from);
        }
        finally
        {
            _reader.Guard.Exit();
        }
    }

    private int ValueBody(SchemaNode node, int from)
    {
        if (node.IsFalse)
        {
            return Nfa.AddState(); // unreachable end: no instance
        }

        if (node.Ref is { } target)
        {
            return Nfa.Call(from, RuleForRef(target, node.Pointer));
        }

        if (node.AnyOf is { } branches)
        {
            var end = Nfa.AddState();
            foreach (var b in branches)
            {
                var s = Nfa.AddState();
                Nfa.AddEps(from, s);
                Nfa.AddEps(Value(b, s), end);
            }

            return end;
        }

        return node.IsTrivial ? AnyValue(from) : TypedValue(node, from);
    }

    /// <summary>A value used at several positions: a rule call when it is big enough to be worth it.</summary>
    private int SharedValue(SchemaNode node, int from)
    {
        var small = node.IsTrivial || (node.Ref is null && node.AnyOf is null
            && (node.Types & (JsonTypes.Object | JsonTypes.Array)) == 0 && node.Enum is null);
        return small ? Value(node, from) : Nfa.Call(from, RuleForNode(node));
    }

    private int TypedValue(SchemaNode node, int from)
    {
        var end = Nfa.AddState();
        if (node.Enum is { } values)
        {
            foreach (var v in values.Where(v => Allows(node, v)))
            {
                Nfa.AddEps(Nfa.Literal(from, Encoding.UTF8.GetBytes(CanonicalJson.Write(v, sortKeys: false))), end);
            }

            return end;
        }

        var t = node.Types;
        foreach (var (type, text) in (ReadOnlySpan<(JsonTypes, string)>)[(JsonTypes.Null, "null"), (JsonTypes.Boolean, "true"), (JsonTypes.Boolean, "false")])
        {
            using var literal = JsonDocument.Parse(text);
            if ((t & type) != 0 && !node.Excludes(literal.RootElement))
            {
                Nfa.AddEps(Nfa.Literal(from, Encoding.UTF8.GetBytes(text)), end);
            }
        }

        if ((t & JsonTypes.Integer) != 0)
        {
            var integerOnly = (t & JsonTypes.Number) == 0;
            Nfa.AddEps(node.MultipleOf is { } step
                ? Nfa.Inline(ByteDfa.Intersect(NumberAutomata.Bounded(node.Minimum, node.Maximum, integerOnly || step.IsInteger),
                    NumberAutomata.Multiples(step, integerOnly, node.Pointer), Nfa.Budget), from)
                : node.Minimum is null && node.Maximum is null
                ? NumberAutomata.EmitUnbounded(Nfa, from, integerOnly)
                : Nfa.Inline(NumberAutomata.Bounded(node.Minimum, node.Maximum, integerOnly), from), end);
        }

        if ((t & JsonTypes.String) != 0)
        {
            Nfa.AddEps(node.HasStringConstraints
                ? StringAutomata.EmitLifted(Nfa, DecodedString(node), from)
                : StringAutomata.EmitAnyJsonString(Nfa, from), end);
        }

        if ((t & JsonTypes.Array) != 0)
        {
            Nfa.AddEps(ArrayBody(node, from), end);
        }

        if ((t & JsonTypes.Object) != 0)
        {
            Nfa.AddEps(ObjectBody(node, from), end);
        }

        return end;
    }

    /// <summary>Decoded-content DFA of a string schema: length, patterns and formats intersected (once per node: an enum checks each value against it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ByteDfa DecodedString(SchemaNode node)
    {
        if (!_decodedStrings.TryGetValue(node, out var dfa))
        {
            dfa = BuildDecodedString(node, Nfa.Budget);
            _decodedStrings[node] = dfa;
        }

        return dfa;
    }

    private static ByteDfa BuildDecodedString(SchemaNode node, CompileBudget budget)
    {
        if (node.MinLength > StringAutomata.MaxCountedLength)
        {
            throw new SchemaCompileException("minLength", node.Pointer, $"values above {StringAutomata.MaxCountedLength} are not supported");
        }

        // maxLength above the cap is narrowed to the cap (see StringAutomata.MaxCountedLength).
        var dfa = node.MinLength > 0 || node.MaxLength is not null
            ? StringAutomata.Length(node.MinLength, node.MaxLength is { } max ? Math.Min(max, StringAutomata.MaxCountedLength) : null, budget)
            : StringAutomata.AnyText;
        foreach (var p in node.Patterns)
        {
            // A pattern's automaton accepts well-formed UTF-8 only, so AnyText adds nothing to it.
            var pattern = RegexCompiler.Compile(p, "pattern", node.Pointer, budget);
            dfa = ReferenceEquals(dfa, StringAutomata.AnyText) ? pattern : ByteDfa.Intersect(dfa, pattern, budget);
        }

        foreach (var f in node.Formats)
        {
            var format = StringFormats.Get(f, node.Pointer);
            dfa = ReferenceEquals(dfa, StringAutomata.AnyText) ? StringAutomata.TextAnd(format, budget) : ByteDfa.Intersect(dfa, format, budget);
        }

        var excluded = node.NotEnum?.Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!).ToList() ?? [];
        return excluded.Count == 0 ? dfa : ByteDfa.Subtract(dfa, StringAutomata.Literals(excluded, budget), budget);
    }

    /// <summary>Whether an enum/const value satisfies the node's other keywords.</summary>
    private bool Allows(SchemaNode node, JsonElement v)
    {
        var type = SchemaMerger.TypeOfValue(v);
        if ((type & node.Types) == 0 || node.Excludes(v))
        {
            return false;
        }

        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                return !node.HasStringConstraints || DecodedString(node).Matches(Encoding.UTF8.GetBytes(v.GetString()!));
            case JsonValueKind.Number:
                var d = JsonDecimal.Parse(v.GetRawText(), "enum", node.Pointer);
                return (node.Minimum is not { } lo || JsonDecimal.Compare(d, lo.Value) is var cl && (cl > 0 || (cl == 0 && !lo.Exclusive)))
                    && (node.Maximum is not { } hi || JsonDecimal.Compare(d, hi.Value) is var ch && (ch < 0 || (ch == 0 && !hi.Exclusive)))
                    && (node.MultipleOf is not { } step || NumberAutomata.IsMultiple(d, step));
            case JsonValueKind.Object when node.HasObjectConstraints:
                throw new SchemaCompileException("enum", node.Pointer, "object values in enum/const together with object keywords are not supported");
            case JsonValueKind.Array when node.HasArrayConstraints:
                throw new SchemaCompileException("enum", node.Pointer, "array values in enum/const together with array keywords are not supported");
            default:
                return true;
        }
    }

    /// <summary>
    /// JSON whitespace: at most MaxWhitespace of ' ', '\t', '\n', '\r' in a row (a chain of states),
    /// or any number when unbounded (one state that loops on itself).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Ws(int from)
    {
        var end = Nfa.AddState();
        Nfa.AddEps(from, end);
        if (_maxWhitespace == JsonSchemaCompileOptions.UnboundedWhitespace)
        {
            AddWhitespaceBytes(end, end);
            return end;
        }

        var s = from;
        for (var i = 0; i < _maxWhitespace; i++)
        {
            var t = Nfa.AddState();
            AddWhitespaceBytes(s, t);
            Nfa.AddEps(t, end);
            s = t;
        }

        return end;
    }

    private void AddWhitespaceBytes(int from, int to)
    {
        Nfa.AddBytes(from, (byte)' ', (byte)' ', to);
        Nfa.AddBytes(from, (byte)'\t', (byte)'\n', to);
        Nfa.AddBytes(from, (byte)'\r', (byte)'\r', to);
    }
}
