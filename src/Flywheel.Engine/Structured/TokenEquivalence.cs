namespace Flywheel.Structured;

/// <summary>
/// Groups the states of a <see cref="CompiledGrammar"/> whose <see cref="MaskCache"/> entries are
/// equal for every vocabulary whose tokens are at most a given number of bytes long, so one entry
/// serves them all. Inside a string with <c>maxLength</c> (or a counted pattern run) every position
/// is a state of its own, yet the positions further than the longest token from both the minimum
/// and the cap read every token alike: without the grouping each of them walks the trie again.
/// </summary>
/// <remarks>
/// <para>
/// A state is <i>plain</i> when its only flag is <see cref="CompiledGrammar.FlagBytes"/>: reading a
/// byte into it keeps the configuration's stack and does nothing else. Write p ≡k q when for every
/// byte class the moves of p and q are both dead, or lead to the same state that is not plain or
/// not in the refined set, or lead to plain states p', q' of the set with p' ≡(k-1) q' (≡0 holds
/// for all states). This is a Moore-style refinement bounded to k rounds, in which states that are
/// not plain are told apart by identity. The set is a state's plain closure without the moves on
/// the class of <see cref="StacklessRegion.ExitByte"/>: a string's states form a region of their own
/// rather than joining, through the quote that ends it, the rest of the document (the whole grammar,
/// where nothing is called), and its escaped quotes still land inside.
/// </para>
/// <para>
/// Claim: if p ≡L q then reading any byte string w with |w| ≤ L from the single configuration
/// (p, base) and from (q, base), as <see cref="TrieWalker"/> does, ends alike: both dead at the
/// same byte, or both alive, with the same pops below the base frame on the way. Proof by
/// induction on the bytes read: after j &lt; |w| bytes that only visited plain states the two sets
/// are {(pj, base)} and {(qj, base)} with pj ≡(L-j) qj and no pop yet (a plain state neither
/// accepts nor calls). On the next byte, since L - j ≥ 1, either both moves are dead (the prefix
/// and every token below it die alike, with no pop before), or both reach the same state x
/// on the same stack (base): from there the closures, calls, pops and every later byte
/// are computed from the same (state, stack) pairs, so the rest of the run is the same run; or
/// both reach plain states equivalent at level L - j - 1 and the induction goes on. After all of w
/// in plain states both sets are single, alive, and never popped. A cache entry is exactly, per
/// token of at most L bytes, whether it is accepted whatever the stack, uncertain (popped below
/// the base and then died in the frame), or rejected; so equivalent states have equal entries.
/// The start state's own flags play no part: the walk starts from its configuration and only
/// moves out of it. Only the token-acceptance entry is shared; everything else (the budget's
/// bounds, the resolution of uncertain tokens on the real stack) stays keyed on the real state.
/// </para>
/// <para>
/// The refinement keeps class ids stable: a round recomputes the signature only of states with a
/// move into a state relabelled in the round before (no other signature can change), and a
/// class whose every member was recomputed keeps its id for one of its groups. A counted run
/// relabels a few states per round (the positions one step further from its ends), so the cost
/// is one pass over the move table plus little per round; it stops early when a round relabels
/// nothing (the partition is then final for every later round). A signature also holds which
/// classes move to the same plain state (the pattern), so a round reads one label per distinct
/// target rather than one per class; that tells apart a little more than ≡k does (states whose
/// equivalent targets are distinct states in one and one state in the other), which is still sound,
/// and never the positions of a counted run, whose patterns are all alike.
/// </para>
/// </remarks>
internal static partial class TokenEquivalence
{
    /// <summary>
    /// [StateCount]: a class id per state such that states with equal ids have the same mask-cache
    /// entry for tokens of at most <paramref name="maxTokenBytes"/> bytes; and how many ids are used.
    /// </summary>
    public static (int[] ClassOf, int ClassCount) Classes(CompiledGrammar g, int maxTokenBytes)
    {
        var all = Enumerable.Range(0, g.StateCount).ToArray();
        return Classes(g, maxTokenBytes, all, all);
    }

    /// <summary>
    /// The classes of <paramref name="states"/> alone, a set closed under moves into plain states on
    /// bytes other than the quote (a state's class depends only on the plain states it reaches; a
    /// quote's move out of the set is compared by identity); <paramref name="localOf"/>
    /// maps each of them to its index in <paramref name="states"/>, and the classes come in that order.
    /// </summary>
    public static (int[] ClassOf, int ClassCount) Classes(CompiledGrammar g, int maxTokenBytes, IReadOnlyList<int> states, int[] localOf)
    {
        var (classOf, count, _, _) = Classes(g, maxTokenBytes, states, localOf, 0);
        return (classOf, count);
    }

    /// <summary>
    /// Like <see cref="Classes(CompiledGrammar, int, IReadOnlyList{int}, int[])"/>, also giving the
    /// classes for tokens of at most <paramref name="shortTokenBytes"/> bytes (no more than
    /// <paramref name="maxTokenBytes"/>; 0 for none): the partition after that many rounds, from the same refinement.
    /// </summary>
    public static (int[] ClassOf, int ClassCount, int[]? ShortClassOf, int ShortClassCount) Classes(
        CompiledGrammar g, int maxTokenBytes, IReadOnlyList<int> states, int[] localOf, int shortTokenBytes)
    {
        if (shortTokenBytes > maxTokenBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(shortTokenBytes), "the short horizon is within the full one");
        }

        int[]? shortLabel = null;
        var shortCount = 0;
        var n = states.Count;
        var (patternOf, targetStart, targets) = Patterns(g, states, localOf);
        var (predStart, preds) = Predecessors(n, targetStart, targets);
        var label = new int[n]; // ≡0: one class
        var classes = new ClassLists(n);
        var labelCount = 1;

        var affected = new List<int>(n);
        for (var s = 0; s < n; s++)
        {
            affected.Add(s);
        }

        var comparer = new SignatureComparer(label, patternOf, targetStart, targets);
        var groups = new Dictionary<int, int>(comparer);
        var groupOld = new List<int>();
        var groupSize = new List<int>();
        var groupNew = new List<int>();
        var memberGroup = new int[n];
        var affectedCount = new int[n];
        var keeper = new int[n];   // per class touched this round: the group keeping its id, -1 = the members not recomputed
        var bestSize = new int[n];
        var touched = new List<int>();
        var relabelled = new List<int>();
        var rest = new List<int>();
        var seen = new int[n];     // round in which the state was last recomputed
        var queued = new int[n];   // round in which the state was last queued for the next
        var round = 0;
        while (affected.Count > 0 && round < maxTokenBytes)
        {
            round++;

            // Signatures from the labels of the round before; nothing is relabelled until all are read.
            // (Clearing costs the table's capacity: after the first round, which reads every state, a small one.)
            if (round == 2)
            {
                groups = new Dictionary<int, int>(comparer);
            }

            groups.Clear();
            groupOld.Clear();
            groupSize.Clear();
            groupNew.Clear();
            touched.Clear();
            foreach (var s in affected)
            {
                seen[s] = round;
                if (!groups.TryGetValue(s, out var group))
                {
                    group = groupOld.Count;
                    groups.Add(s, group);
                    groupOld.Add(label[s]);
                    groupSize.Add(0);
                    groupNew.Add(-1);
                }

                memberGroup[s] = group;
                groupSize[group]++;
                if (affectedCount[label[s]]++ == 0)
                {
                    touched.Add(label[s]);
                }
            }

            // The largest part of each class keeps its id (the members not recomputed count as one
            // part: their signatures are unchanged and hold no id made in the last round, so they
            // match no recomputed group); every other part gets a new id. Moving the smaller parts
            // only keeps the states to recompute next round few (Hopcroft's rule).
            foreach (var x in touched)
            {
                keeper[x] = -1;
                bestSize[x] = classes.Size[x] - affectedCount[x];
            }

            for (var group = 0; group < groupOld.Count; group++)
            {
                var x = groupOld[group];
                if (groupSize[group] > bestSize[x])
                {
                    bestSize[x] = groupSize[group];
                    keeper[x] = group;
                }
            }

            relabelled.Clear();
            foreach (var s in affected)
            {
                var group = memberGroup[s];
                if (keeper[label[s]] == group)
                {
                    continue;
                }

                if (groupNew[group] < 0)
                {
                    groupNew[group] = labelCount++;
                }

                relabelled.Add(s);
            }

            foreach (var x in touched)
            {
                if (keeper[x] >= 0 && classes.Size[x] > affectedCount[x])
                {
                    rest.Clear();
                    for (var s = classes.Head[x]; s >= 0; s = classes.Next[s])
                    {
                        if (seen[s] != round)
                        {
                            rest.Add(s);
                        }
                    }

                    var fresh = labelCount++;
                    foreach (var s in rest)
                    {
                        classes.Move(s, x, fresh);
                        label[s] = fresh;
                        relabelled.Add(s);
                    }
                }

                affectedCount[x] = 0;
            }

            foreach (var s in relabelled)
            {
                if (seen[s] == round && keeper[groupOld[memberGroup[s]]] != memberGroup[s])
                {
                    var to = groupNew[memberGroup[s]];
                    classes.Move(s, label[s], to);
                    label[s] = to;
                }
            }

            if (round == shortTokenBytes)
            {
                // Labels after k rounds are the classes of ≡k: the short tokens' classes.
                shortLabel = (int[])label.Clone();
                shortCount = labelCount;
            }

            // Only the states moving into a relabelled one can have a new signature next round.
            affected.Clear();
            foreach (var t in relabelled)
            {
                for (var p = predStart[t]; p < predStart[t + 1]; p++)
                {
                    var s = preds[p];
                    if (queued[s] != round)
                    {
                        queued[s] = round;
                        affected.Add(s);
                    }
                }
            }
        }

        if (shortTokenBytes > 0 && shortLabel is null)
        {
            // Stopped before that round: nothing was relabelled, so the partition was already final.
            shortLabel = (int[])label.Clone();
            shortCount = labelCount;
        }

        return (label, labelCount, shortLabel, shortCount);
    }
}
