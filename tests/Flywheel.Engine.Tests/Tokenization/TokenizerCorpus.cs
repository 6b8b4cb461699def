namespace Flywheel.Engine.Tests.Tokenization;

/// <summary>
/// Texts that exercise pre-tokenizer splits, byte-level merges and added tokens: emoji (sequences, flags, tags,
/// keycaps), astral letters, digits and symbols (whose Unicode categories a regex must see on code points, not
/// UTF-16 halves), CJK, combining marks, Unicode whitespace runs, code, and every family's special tokens.
/// </summary>
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
        "Emoji runs: 😀😃😄😁 🚀🚀🚀!!! 👩🏽‍💻 at 10:30 ✅❌ ok👌 (😅) \"🔥\" 💯%",
        "Keycaps, flags, tags: 1️⃣ #️⃣ 🏳️‍🌈 🏴󠁧󠁢󠁳󠁣󠁴󠁿 🇯🇵🇺🇸 ☺︎ ☺️",
        "Astral letters and digits: 𝐀𝐁𝐂 𝑥² + 𝑦² = 𝑧² 𝟙𝟚𝟛 𐌰𐌱𐌲 𓀀𓀁 𝄞 music 𐐷𐐏",
        "中文句子，包含标点。「引号」『书名』【括号】、顿号；还有半角,标点. 中文abc中文 ひらがなカタカナ漢字",
        "カタカナとひらがな、漢字を混ぜた文章です。ｶﾀｶﾅ（全角）１２３ ＡＢＣ",
        "안녕하세요 세계! 가나다라마바사 123 한국어",
        "Thai: สวัสดีครับ Vietnamese: Tiếng Việt có dấu Greek: Ελληνικά",
        "Zalgo: Z̷̢̛a̸l̴g̵o̶ t̷e̸x̵t̴ and e\u0301\u0302\u0323 stacked, \u0301 leading mark",
        "Devanagari: क्षत्रिय हिन्दी; Arabic: مُحَمَّد ١٢٣٤; Hebrew: שָׁלוֹם",
        "a\u00A0b\u3000c\u2009d\u202Fe\u2003f \u3000\u3000全角スペース",
        "  \t \t\n  \n\n\t\tx   \r\n   \r\r\n \n",
        "                 seventeen spaces then\t\t\t\ttabs",
        "trailing newline runs\n\n\n\n",
        "Numbers: 1234567890 ½ ² ³ Ⅻ ⑫ 3,000,000.50 007",
        "Punctuation runs: Wait... what?!?! — really… «quoted» “curly” ‘single’ (a)[b]{c} --> <=> ::",
        "DON'T I'LL WE'VE He's SHE'D it'S",
        "import numpy as np\n\nclass Model(nn.Module):\n    def forward(self, x: Tensor) -> Tensor:\n        return self.fc(x)  # 😀\n",
        "const f = async (a, b) => { await fetch(`/api/${a}?b=${b}`); return a ?? b; };\n// TODO: fix",
        "fn longest<'a>(x: &'a str, y: &'a str) -> &'a str { if x.len() > y.len() { x } else { y } }",
        "SELECT id, name FROM users WHERE email LIKE '%@example.com' ORDER BY id DESC;\n<div class=\"x\">&nbsp;</div>",
        "cat log.txt | grep -E '^[0-9]{4}-[0-9]{2}' | awk '{print $1}' > out && echo \"done\"",
        "public sealed class Cache<TKey, TValue> where TKey : notnull\n{\n\tprivate readonly Dictionary<TKey, TValue> _map = new();\n}",
        "private int _free;" + new string(' ', 38) + "// aligned comment\n" + new string(' ', 70) + "x" + new string(' ', 5) + "y",
        "<s>[INST] hi [/INST] ok</s> <bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
        "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>hi<｜Assistant｜>ok<｜end▁of▁sentence｜>",
        "<|start|>assistant<|channel|>final<|message|>hi<|end|><|return|> <|endoftext|>",
    ];

    /// <summary>
    /// <paramref name="count"/> seeded random texts stitched from pieces of every script, symbol, whitespace
    /// and special-token kind above: combinations nobody would write by hand (a mark after an emoji, "'S"
    /// after CJK, a special token inside a space run) that still have to split exactly as the reference does.
    /// </summary>
    public static string[] Generated(int count, int seed = 7)
    {
        string[] pools =
        [
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
            " ", "  ", "\t", "\n", "\r\n", "\u00A0", "\u3000", "\u2009", "\u202F", "\u2028", "\u0085", "\uFEFF", "\u200B", "\u200D",
            "日本語中文字漢字你好世界", "ひらがなカタカナ", "한국어텍스트", "ｶﾀｶﾅ１２３ＡＢＣ", "αβγΑΒΓπσ", "привет", "مرحبا", "नमस्ते", "สวัสดี",
            "\u0301\u0308\u0323\u0302\u20DD\u0903", "éèêëçñøåæœß", "😀😃🚀🔥💯👍🏽👩‍💻❤️☺️✅🇫🇷🏳️‍🌈", "𝐀𝐁𝑥𝑦𝟙𝟚𐌰𐌱𓀀𝄞𠀋𩸽",
            "½²³ⅫⅣ⑫①", "«»“”‘’—–…·•", "∑∫√∞≠≤≥±×÷", "$€£¥₹₿", "'s", "'t", "'re", "'ve", "'ll", "'d", "'S", "'LL", "▁",
            "<s>", "</s>", "<bos>", "<start_of_turn>", "<|endoftext|>", "<|im_start|>", "<|eot_id|>", "<｜end▁of▁sentence｜>", "<|return|>",
        ];
        var random = new Random(seed);
        var texts = new string[count];
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < count; i++)
        {
            text.Clear();
            for (var n = random.Next(1, 41); n > 0; n--)
            {
                // Long pools contribute a few whole code points from a random place; short ones are used whole.
                var pool = pools[random.Next(pools.Length)];
                var points = pool.EnumerateRunes().Select(r => r.ToString()).ToArray();
                if (points.Length > 3 && random.NextDouble() < 0.7)
                {
                    var take = random.Next(1, Math.Min(6, points.Length) + 1);
                    text.Append(string.Concat(points.Skip(random.Next(points.Length - take + 1)).Take(take)));
                }
                else
                {
                    text.Append(pool);
                }
            }

            texts[i] = text.ToString();
        }

        return texts;
    }
}
