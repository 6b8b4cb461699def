namespace Flywheel.Engine.Tests.Tokenization;

/// <summary>Texts that exercise pre-tokenizer splits, byte-level merges and added tokens.</summary>
internal static class TokenizerCorpus
{
    public static readonly string[] Texts =
    [
        "Hello, world!",
        "The quick brown fox jumps over the lazy dog.",
        "  leading and trailing spaces   ",
        "tabs\tand\nnewlines\r\n\r\nand   runs    of     spaces",
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
        "for (int i = 0; i < 10; ++i) { sum += a[i] * b[i]; }",
        "{\"name\": \"Flywheel\", \"tokens\": [1, 2, 3], \"ok\": true, \"pi\": 3.14159}",
        "Numbers: 1 12 123 1234 12345 123456 1234567 3.14 -42 1e10 0x1F",
        "日本語のテキストと中文文本，还有한국어 텍스트.",
        "Emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ and text",
        "Accents: café naïve résumé Ångström Ødegaard straße",
        "Mixed: Привет мир, مرحبا بالعالم, שלום עולם, नमस्ते दुनिया",
        "I'm sure you'll see they've done it, we'd say it's THEY'RE",
        "URLs: https://example.com/path?query=1&x=y#frag and emails a.b@c.org",
        "Special tokens inside: <|begin_of_text|>hi<|eot_id|> and <|im_start|>user\nhi<|im_end|>",
        "",
        " ",
        "\n\n\n",
        "a",
        "ΑΒΓ αβγ ∑∫√∞ ≠ ≤ ≥ ±",
        "x" + new string('=', 40) + "y",
        "Symbols: ~!@#$%^&*()_+`-=[]\\{}|;':\",./<>?",
        "Astral next to letters: \U0001F600abc x\U0001F600y \U0001D49Cbc 𠀋字",
        "Decomposed accents: cafe\u0301 na\u0131\u0308ve A\u030Angstro\u0308m \u1100\u1161\u11A8",
    ];
}
