using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

internal sealed partial class GrammarBuilder
{
    /// <summary>
    /// Declared properties from which an object's member values may be shared as rules. Below it
    /// members stay inline: such an object compiles within about 30 ms either way, and inline its
    /// masks never depend on the stack (shared, tokens that run past a value's end are checked one by
    /// one against it: in the grammar benchmark's 300-property case a warm mask went from about 1 to
    /// 6 us at the median on Llama-3's vocabulary, and from 7 to 70-500 us on the synthetic one,
    /// whose tokens are mostly pieces of JSON).
    /// </summary>
    public const int SharedMembersFrom = 256;

    /// <summary>Distinct member shapes an object compares each member against.</summary>
    private const int MaxMemberShapes = 8;

    /// <summary>
    /// A member after its key: whitespace, the colon, whitespace and the value; returns the state
    /// after the value. Inline, unless <paramref name="shapes"/> is given (an object of at least
    /// <see cref="SharedMembersFrom"/> properties): then the part is built, and when it is a copy of
    /// one built before (<see cref="ByteNfa.SameFragment"/>: the same language, whatever the schema
    /// nodes said), the second copy becomes a rule and every later copy is forgotten again and
    /// replaced by a call of it. In a flat automaton each member needs its own states, since the
    /// state must remember which member comes next: 2,000 <c>"pN":{"type":"string"}</c> members
    /// were 185,000 states (92 each: four runs of whitespace and the string's states), over 120 MB
    /// and 250 ms to compile. Called, the shared part is one set of states, and a member costs its
    /// key, the whitespace after its value and the comma. Masks inside the rule are shared by every
    /// member; tokens that run past the value's end depend on the caller and are checked against the
    /// stack, which is why the rule ends at the value and not after the whitespace that follows it
    /// (a token of whitespace and then a letter would depend on the caller in every such state).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int MemberAfterKey(int from, SchemaNode value, List<MemberShape>? shapes)
    {
        if (shapes is null)
        {
            return Value(value, Ws(Nfa.Literal(Ws(from), ":"u8)));
        }

        var mark = Nfa.Mark();
        var rules = Rules.Count;
        var entry = Nfa.AddState();
        var exit = Value(value, Ws(Nfa.Literal(Ws(entry), ":"u8)));
        var end = Nfa.Mark();
        if (Rules.Count == rules)
        {
            // A part that made rules (a nested reference, "any value") is never shared or forgotten:
            // the rules it made name its states.
            foreach (var shape in shapes)
            {
                if (!Nfa.SameFragment(shape.Start, shape.End, mark, end))
                {
                    continue;
                }

                if (shape.Rule < 0)
                {
                    shape.Rule = Rules.Count;
                    Rules.Add((entry, exit, value.Pointer));
                    return Nfa.Call(from, shape.Rule);
                }

                Nfa.Rollback(mark);
                return Nfa.Call(from, shape.Rule);
            }

            if (shapes.Count < MaxMemberShapes)
            {
                shapes.Add(new MemberShape(mark, end));
            }
        }

        Nfa.AddEps(from, entry);
        return exit;
    }

    /// <summary>A member part built inline, and the rule made of its second copy (-1 until there is one).</summary>
    private sealed class MemberShape(NfaMark start, NfaMark end)
    {
        public NfaMark Start { get; } = start;

        public NfaMark End { get; } = end;

        public int Rule { get; set; } = -1;
    }
}
