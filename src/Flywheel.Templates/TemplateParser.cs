namespace Flywheel.Templates;

/// <summary>
/// Builds the syntax tree from tokens: statements here, expressions in TemplateParser.Expressions.cs.
/// The grammar and operator precedence follow Jinja's parser, so templates mean what they mean in Python.
/// </summary>
internal sealed partial class TemplateParser
{
    private const int MaxNesting = 200;

    private static readonly HashSet<string> UnsupportedTags =
        ["include", "extends", "block", "import", "from", "with", "call", "do", "autoescape", "trans", "print"];

    private readonly SourceText _source;
    private readonly List<Token> _tokens;
    private int _i;
    private int _nesting;
    private int _loopDepth;

    private TemplateParser(SourceText source)
    {
        _source = source;
        _tokens = TemplateLexer.Tokenize(source);
    }

    private Token Current => _tokens[_i];

    public static Stmt[] Parse(SourceText source)
    {
        var parser = new TemplateParser(source);
        return parser.ParseBody([], "", 0, out _);
    }

    private Token Peek(int ahead) => _tokens[Math.Min(_i + ahead, _tokens.Count - 1)];

    private TemplateSyntaxException Error(Token at, string reason) => _source.SyntaxError(at.Offset, reason);

    private TemplateSyntaxException Unexpected(string expected) =>
        Error(Current, $"unexpected {Current.Describe()}, expected {expected}");

    private void Enter()
    {
        if (++_nesting > MaxNesting)
        {
            throw Error(Current, $"template nested too deeply (more than {MaxNesting} levels)");
        }
    }

    private void ExpectOperator(string op)
    {
        if (!Current.IsOperator(op))
        {
            throw Unexpected($"'{op}'");
        }

        _i++;
    }

    private void ExpectBlockEnd()
    {
        if (Current.Kind != TokenKind.BlockEnd)
        {
            throw Unexpected("end of tag '%}'");
        }

        _i++;
    }

    private string ExpectName(string what)
    {
        if (Current.Kind != TokenKind.Name)
        {
            throw Unexpected(what);
        }

        return _tokens[_i++].Value;
    }

    /// <summary>
    /// Parses statements up to a block tag named in <paramref name="ends"/>, consuming that tag's name
    /// (its arguments and '%}' are left to the caller). <paramref name="opener"/> names the open block.
    /// </summary>
    private Stmt[] ParseBody(string[] ends, string opener, int openerOffset, out string endTag)
    {
        Enter();
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Text:
                    body.Add(new TextStmt(token.Offset, token.Value));
                    _i++;
                    break;
                case TokenKind.VariableBegin:
                    _i++;
                    var value = ParseTuple();
                    if (Current.Kind != TokenKind.VariableEnd)
                    {
                        throw Unexpected("end of expression '}}'");
                    }

                    _i++;
                    body.Add(new OutputStmt(token.Offset, value));
                    break;
                case TokenKind.BlockBegin:
                    var name = Peek(1);
                    if (name.Kind != TokenKind.Name)
                    {
                        throw Error(name, $"expected a tag name after '{{%', got {name.Describe()}");
                    }

                    if (Array.IndexOf(ends, name.Value) >= 0)
                    {
                        _i += 2;
                        endTag = name.Value;
                        _nesting--;
                        return [.. body];
                    }

                    _i += 2;
                    body.Add(ParseStatement(token, name));
                    break;
                default:
                    if (ends.Length == 0)
                    {
                        endTag = "";
                        _nesting--;
                        return [.. body];
                    }

                    var (line, column) = _source.Locate(openerOffset);
                    throw Error(token, $"unexpected end of template: the '{opener}' tag at line {line}, column {column} " +
                        $"is never closed (expected '{{% {ends[^1]} %}}')");
            }
        }
    }

    private Stmt ParseStatement(Token begin, Token name)
    {
        switch (name.Value)
        {
            case "if": return ParseIf(begin);
            case "for": return ParseFor(begin);
            case "set": return ParseSet(begin);
            case "macro": return ParseMacro(begin);
            case "filter": return ParseFilterBlock(begin);
            case "generation":
                ExpectBlockEnd();
                var body = ParseBody(["endgeneration"], "generation", begin.Offset, out _);
                ExpectBlockEnd();
                return new GroupStmt(begin.Offset, body);
            case "break" or "continue":
                if (_loopDepth == 0)
                {
                    throw Error(name, $"'{name.Value}' outside of a for loop");
                }

                ExpectBlockEnd();
                return name.Value == "break" ? new BreakStmt(begin.Offset) : new ContinueStmt(begin.Offset);
            case var tag when UnsupportedTags.Contains(tag):
                throw Error(name, $"the '{tag}' tag is not supported in chat templates");
            case var tag when tag.StartsWith("end", StringComparison.Ordinal) || tag is "elif" or "else":
                throw Error(name, $"unexpected '{tag}': no open block expects it here");
            default:
                throw Error(name, $"unknown tag '{name.Value}'");
        }
    }

    private IfStmt ParseIf(Token begin)
    {
        var branches = new List<IfBranch>();
        Stmt[]? otherwise = null;
        var test = ParseTuple(withCondExpr: false);
        while (true)
        {
            ExpectBlockEnd();
            var body = ParseBody(["elif", "else", "endif"], "if", begin.Offset, out var end);
            branches.Add(new IfBranch(test, body));
            if (end == "elif")
            {
                test = ParseTuple(withCondExpr: false);
                continue;
            }

            if (end == "else")
            {
                ExpectBlockEnd();
                otherwise = ParseBody(["endif"], "if", begin.Offset, out _);
            }

            ExpectBlockEnd();
            return new IfStmt(begin.Offset, [.. branches], otherwise);
        }
    }

    private ForStmt ParseFor(Token begin)
    {
        var target = ParseAssignTarget(allowNamespace: false);
        if (!Current.IsName("in"))
        {
            throw Unexpected("'in'");
        }

        _i++;
        var iterable = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        if (Current.IsName("recursive"))
        {
            throw Error(Current, "recursive for loops are not supported");
        }

        Expr? filter = null;
        if (Current.IsName("if"))
        {
            _i++;
            filter = ParseExpression();
        }

        ExpectBlockEnd();
        _loopDepth++;
        var body = ParseBody(["endfor", "else"], "for", begin.Offset, out var end);
        _loopDepth--;
        Stmt[]? otherwise = null;
        if (end == "else")
        {
            ExpectBlockEnd();
            otherwise = ParseBody(["endfor"], "for", begin.Offset, out _);
        }

        ExpectBlockEnd();
        return new ForStmt(begin.Offset, target, iterable, filter, body, otherwise);
    }

    private Stmt ParseSet(Token begin)
    {
        var target = ParseAssignTarget(allowNamespace: true);
        if (Current.IsOperator("="))
        {
            _i++;
            var value = ParseTuple();
            ExpectBlockEnd();
            return new SetStmt(begin.Offset, target, value);
        }

        if (target is TupleTarget)
        {
            throw Unexpected("'=' (a block set assigns to one name)");
        }

        var filters = new List<FilterCall>();
        while (Current.IsOperator("|"))
        {
            _i++;
            filters.Add(ParseFilterCall());
        }

        ExpectBlockEnd();
        var body = ParseBody(["endset"], "set", begin.Offset, out _);
        ExpectBlockEnd();
        return new BlockSetStmt(begin.Offset, target, [.. filters], body);
    }

    private MacroStmt ParseMacro(Token begin)
    {
        var name = ExpectName("a macro name");
        ExpectOperator("(");
        var parameters = new List<MacroParameter>();
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator(")"))
                {
                    break;
                }
            }

            var parameterToken = Current;
            var parameter = ExpectName("a parameter name");
            Expr? defaultValue = null;
            if (Current.IsOperator("="))
            {
                _i++;
                defaultValue = ParseExpression();
            }
            else if (parameters.Count > 0 && parameters[^1].Default is not null)
            {
                throw Error(parameterToken, $"parameter '{parameter}' without a default follows one with a default");
            }

            parameters.Add(new MacroParameter(parameter, defaultValue));
        }

        _i++;
        ExpectBlockEnd();

        // break/continue cannot cross a macro boundary.
        var outerLoops = _loopDepth;
        _loopDepth = 0;
        var body = ParseBody(["endmacro"], "macro", begin.Offset, out _);
        _loopDepth = outerLoops;
        if (Current.Kind == TokenKind.Name && Current.Value == name)
        {
            _i++;
        }

        ExpectBlockEnd();
        return new MacroStmt(begin.Offset, name, [.. parameters], body);
    }

    private FilterBlockStmt ParseFilterBlock(Token begin)
    {
        var filters = new List<FilterCall> { ParseFilterCall() };
        while (Current.IsOperator("|"))
        {
            _i++;
            filters.Add(ParseFilterCall());
        }

        ExpectBlockEnd();
        var body = ParseBody(["endfilter"], "filter", begin.Offset, out _);
        ExpectBlockEnd();
        return new FilterBlockStmt(begin.Offset, [.. filters], body);
    }

    /// <summary>A name, a tuple of names (<c>a, b</c> or <c>(a, b)</c>), or <c>ns.attr</c> when allowed.</summary>
    private Target ParseAssignTarget(bool allowNamespace)
    {
        var start = Current;
        if (allowNamespace && start.Kind == TokenKind.Name && Peek(1).IsOperator("."))
        {
            _i += 2;
            return new AttributeTarget(start.Offset, start.Value, ExpectName("an attribute name"));
        }

        var parenthesized = Current.IsOperator("(");
        if (parenthesized)
        {
            _i++;
        }

        var names = new List<string> { ExpectName("a variable name") };
        var sawComma = false;
        while (Current.IsOperator(","))
        {
            _i++;
            sawComma = true;
            if (Current.Kind != TokenKind.Name)
            {
                break;
            }

            names.Add(ExpectName("a variable name"));
        }

        if (parenthesized)
        {
            ExpectOperator(")");
        }

        foreach (var n in names)
        {
            if (n is "true" or "false" or "none" or "True" or "False" or "None")
            {
                throw Error(start, $"cannot assign to '{n}'");
            }
        }

        return !sawComma ? new NameTarget(start.Offset, names[0]) : new TupleTarget(start.Offset, [.. names]);
    }
}
