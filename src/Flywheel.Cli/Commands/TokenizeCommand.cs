using System.Text.Json;

namespace Flywheel.Cli;

/// <summary><c>flywheel tokenize</c>: prints the token ids of a text as one JSON array.</summary>
internal static class TokenizeCommand
{
    public static readonly CliApp.Command Definition = new(
        "tokenize",
        "print the token ids of a text as a JSON array",
        "usage: flywheel tokenize --tokenizer FILE (--text TEXT | --text-file FILE) [--add-special-tokens]",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        var args = CommandArgs.Parse(input.Args, "add-special-tokens");
        var tokenizerPath = args.Required("tokenizer");
        var text = args.String("text");
        var textFile = args.String("text-file");
        var addSpecial = args.Flag("add-special-tokens");
        args.EnsureAllUsed();
        if ((text is null) == (textFile is null))
        {
            throw new UsageException("give exactly one of --text and --text-file");
        }

        if (!File.Exists(tokenizerPath))
        {
            throw new CliException($"tokenizer file not found: {tokenizerPath}");
        }

        text ??= File.Exists(textFile) ? File.ReadAllText(textFile!) : throw new CliException($"text file not found: {textFile}");
        var tokenizer = ModelLoading.LoadTokenizer(tokenizerPath);
        var ids = tokenizer.Encode(text, addSpecial);
        input.Out.WriteLine(JsonSerializer.Serialize(ids));
        return 0;
    }
}
