using System.Reflection;
using Flywheel.Benchmarks;

var benchmarks = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

var chosen = args.Length > 0 ? benchmarks.FirstOrDefault(b => b.Name == args[0]) : null;
if (chosen is null)
{
    Console.Error.WriteLine("usage: Flywheel.Benchmarks <name> [args]");
    foreach (var b in benchmarks)
    {
        Console.Error.WriteLine($"  {b.Name,-20} {b.Description}");
    }

    return 2;
}

return chosen.Run(args[1..]);
