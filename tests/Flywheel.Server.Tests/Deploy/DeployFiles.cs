using System.Globalization;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Flywheel.Server.Tests.Deploy;

/// <summary>Reads the repository's deployment files (Dockerfile, .dockerignore, Kubernetes YAML) for the consistency tests.</summary>
internal static class DeployFiles
{
    public static string Root { get; } = EngineServer.RepositoryRoot();

    public static string KubernetesDir => Path.Combine(Root, "deploy", "kubernetes");

    /// <summary>Every YAML document of <paramref name="file"/> (relative to deploy/kubernetes), as nested dictionaries and lists.</summary>
    public static IReadOnlyList<Dictionary<object, object>> Yaml(string file)
    {
        var deserializer = new DeserializerBuilder().Build();
        using var reader = new StringReader(File.ReadAllText(Path.Combine(KubernetesDir, file)));
        var parser = new YamlDotNet.Core.Parser(reader);
        parser.Consume<YamlDotNet.Core.Events.StreamStart>();
        var documents = new List<Dictionary<object, object>>();
        while (parser.Accept<YamlDotNet.Core.Events.DocumentStart>(out _))
        {
            documents.Add(deserializer.Deserialize<Dictionary<object, object>>(parser));
        }

        return documents;
    }

    /// <summary>The one document of kind <paramref name="kind"/> among the manifests kustomization.yaml lists.</summary>
    public static Dictionary<object, object> Manifest(string kind) =>
        Assert.Single(Resources().SelectMany(Yaml), d => Equals(d["kind"], kind));

    public static IReadOnlyList<string> Resources() => List(Yaml("kustomization.yaml")[0], "resources").Cast<string>().ToList();

    /// <summary>The node at a dotted path ("spec.template.spec"); fails naming the path when absent.</summary>
    public static object At(object node, string path)
    {
        foreach (var key in path.Split('.'))
        {
            var map = Assert.IsType<Dictionary<object, object>>(node, exactMatch: false);
            Assert.True(map.TryGetValue(key, out var child), $"missing '{key}' of '{path}'");
            node = child!;
        }

        return node;
    }

    public static Dictionary<object, object> Map(object node, string path) => Assert.IsType<Dictionary<object, object>>(At(node, path));

    public static List<object> List(object node, string path) => Assert.IsType<List<object>>(At(node, path));

    public static string Text(object node, string path) => Assert.IsType<string>(At(node, path));

    public static int Int(object node, string path) => int.Parse(Text(node, path), CultureInfo.InvariantCulture);

    public static Dictionary<string, string> Labels(object node, string path) =>
        Map(node, path).ToDictionary(kv => (string)kv.Key, kv => (string)kv.Value);

    /// <summary>The value after <paramref name="option"/> in an argument list, or null.</summary>
    public static string? Option(IReadOnlyList<string> args, string option)
    {
        var i = args.ToList().IndexOf(option);
        return i >= 0 && i + 1 < args.Count ? args[i + 1] : null;
    }

    /// <summary>The Dockerfile as stages of (instruction, arguments), continuation lines joined, comments dropped.</summary>
    public static IReadOnlyList<DockerStage> Dockerfile()
    {
        var stages = new List<DockerStage>();
        var pending = "";
        foreach (var raw in File.ReadAllLines(Path.Combine(Root, "Dockerfile")))
        {
            var line = raw.Trim();
            if (pending.Length == 0 && (line.Length == 0 || line.StartsWith('#')))
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                continue; // a comment inside a continued instruction
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            var text = (pending + line).Trim();
            pending = "";
            var space = text.IndexOf(' ');
            var instruction = new DockerInstruction(text[..space].ToUpperInvariant(), text[(space + 1)..].Trim());
            if (instruction.Keyword == "FROM")
            {
                var parts = instruction.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                stages.Add(new DockerStage(parts[0], parts.Length >= 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : null, []));
            }
            else if (stages.Count == 0)
            {
                Assert.Equal("ARG", instruction.Keyword);
            }
            else
            {
                stages[^1].Instructions.Add(instruction);
            }
        }

        return stages;
    }

    /// <summary>Default values of the ARGs declared before the first FROM.</summary>
    public static Dictionary<string, string> DockerGlobalArgs() =>
        File.ReadAllLines(Path.Combine(Root, "Dockerfile"))
            .TakeWhile(l => !l.StartsWith("FROM ", StringComparison.Ordinal))
            .Where(l => l.StartsWith("ARG ", StringComparison.Ordinal) && l.Contains('='))
            .Select(l => l[4..].Split('=', 2))
            .ToDictionary(p => p[0].Trim(), p => p[1].Trim());

    /// <summary>An exec-form (JSON array) CMD or ENTRYPOINT.</summary>
    public static IReadOnlyList<string> ExecForm(DockerInstruction instruction) =>
        JsonSerializer.Deserialize<string[]>(instruction.Arguments) ?? throw new InvalidOperationException("null exec form");

    /// <summary>
    /// Whether .dockerignore leaves <paramref name="path"/> (relative, '/'-separated) in the build context.
    /// Handles the pattern forms the file uses: a name or path (matches it and everything below) and **/name.
    /// </summary>
    public static bool InBuildContext(string path)
    {
        var segments = path.Split('/');
        foreach (var raw in File.ReadAllLines(Path.Combine(Root, ".dockerignore")))
        {
            var pattern = raw.Trim();
            if (pattern.Length == 0 || pattern.StartsWith('#'))
            {
                continue;
            }

            Assert.False(pattern.StartsWith('!'), "exceptions in .dockerignore are not handled by this check");
            if (pattern.StartsWith("**/", StringComparison.Ordinal))
            {
                if (segments.Contains(pattern[3..]))
                {
                    return false;
                }
            }
            else if (pattern.StartsWith("*.", StringComparison.Ordinal))
            {
                if (segments.Length == 1 && path.EndsWith(pattern[1..], StringComparison.Ordinal))
                {
                    return false;
                }
            }
            else if (path == pattern || path.StartsWith(pattern.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}

internal sealed record DockerInstruction(string Keyword, string Arguments);

internal sealed record DockerStage(string Image, string? Name, List<DockerInstruction> Instructions)
{
    public IEnumerable<DockerInstruction> All(string keyword) => Instructions.Where(i => i.Keyword == keyword);

    public DockerInstruction Single(string keyword) => Assert.Single(All(keyword));
}
