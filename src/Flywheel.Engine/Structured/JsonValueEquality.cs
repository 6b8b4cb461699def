using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using Newtonsoft.Json.Linq;

namespace Flywheel.Structured;

/// <summary>
/// JSON Schema's equality for <c>enum</c> and <c>const</c>: same JSON type and value, objects
/// regardless of member order, arrays item by item, numbers by value (1 equals 1.0). NJsonSchema
/// compares the members' text instead, so the string "1" matched 1, "True" matched true and a
/// reordered object matched nothing (and uniqueItems took {} and "{}" for duplicates, and two
/// reordered objects for distinct).
/// </summary>
internal static class JsonValueEquality
{
    /// <summary>Whether <paramref name="instance"/> equals one of <paramref name="members"/> (as NJsonSchema holds them).</summary>
    public static bool AnyEquals(IEnumerable<object?> members, JToken instance) =>
        members.Any(m => JsonEquals(m as JToken ?? (m is null ? JValue.CreateNull() : JToken.FromObject(m)), instance));

    /// <summary>Whether two items of <paramref name="array"/> are equal (uniqueItems), in about linear time.</summary>
    public static bool HasDuplicates(JArray array)
    {
        var seen = new Dictionary<int, List<JToken>>();
        foreach (var item in array)
        {
            var bucket = CollectionsMarshal.GetValueRefOrAddDefault(seen, Hash(item), out _) ??= [];
            if (bucket.Any(other => JsonEquals(other, item)))
            {
                return true;
            }

            bucket.Add(item);
        }

        return false;
    }

    /// <summary>Whether two JSON values are equal in JSON Schema's sense.</summary>
    public static bool JsonEquals(JToken a, JToken b)
    {
        switch (a, b)
        {
            case (JObject x, JObject y):
                return x.Count == y.Count && x.Properties().All(p => y.TryGetValue(p.Name, out var other) && JsonEquals(p.Value, other));
            case (JArray x, JArray y):
                return x.Count == y.Count && x.Zip(y).All(pair => JsonEquals(pair.First, pair.Second));
            case (JValue x, JValue y) when IsNumber(x) && IsNumber(y):
                return NumberEquals(x, y);
            case (JValue x, JValue y):
                return x.Type == y.Type && Equals(x.Value, y.Value);
            default:
                return false;
        }
    }

    /// <summary>A hash equal for equal values: member order ignored, numbers by their double value.</summary>
    private static int Hash(JToken t) => t switch
    {
        JObject o => o.Properties().Aggregate(1, (h, p) => h ^ HashCode.Combine(p.Name, Hash(p.Value))),
        JArray a => a.Aggregate(2, (h, item) => HashCode.Combine(h, Hash(item))),
        JValue v when IsNumber(v) => ToDouble(v).GetHashCode(),
        JValue v => HashCode.Combine(v.Type, v.Value),
        _ => 0,
    };

    private static bool IsNumber(JValue v) => v.Type is JTokenType.Integer or JTokenType.Float;

    private static bool NumberEquals(JValue x, JValue y)
    {
        if (x.Type == JTokenType.Integer && y.Type == JTokenType.Integer)
        {
            return Whole(x) == Whole(y);
        }

        // A float equals an integer as far as a double tells them apart (the suite's "up to 64-bit
        // representation limits"); an integer wider than a double is never equal to a float.
        return ToDouble(x) == ToDouble(y);
    }

    private static double ToDouble(JValue v) => v.Value is BigInteger big ? (double)big : Convert.ToDouble(v.Value, CultureInfo.InvariantCulture);

    private static BigInteger Whole(JValue v) => v.Value switch
    {
        BigInteger big => big,
        var other => new BigInteger(Convert.ToDecimal(other, CultureInfo.InvariantCulture)),
    };
}
