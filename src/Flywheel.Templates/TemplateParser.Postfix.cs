using System.Globalization;

namespace Flywheel.Templates;

// The postfix level of expressions (see TemplateParser.Expressions.cs for the precedence ladder): attribute
// and item access, slices, calls with their arguments, and the filters (| f) and tests (is t) that bind
// at the same level.
internal sealed partial class TemplateParser
{
    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("."))
            {
                var dot = _tokens[_i++];
                var member = Current;
                _i++;
                node = member.Kind switch
                {
                    TokenKind.Name => new AttrExpr(dot.Offset, node, member.Value),
                    TokenKind.Integer => new ItemExpr(dot.Offset, node, new ConstExpr(member.Offset, long.Parse(member.Value, CultureInfo.InvariantCulture))),
                    _ => throw Error(member, $"expected an attribute name after '.', got {member.Describe()}"),
                };
            }
            else if (Current.IsOperator("["))
            {
                node = ParseSubscript(node);
            }
            else if (Current.IsOperator("("))
            {
                node = new CallExpr(node.Offset, node, ParseCallArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript(Expr node)
    {
        var open = _tokens[_i++];
        Expr? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression();
            if (!Current.IsOperator(":"))
            {
                ExpectOperator("]");
                return new ItemExpr(open.Offset, node, start);
            }
        }

        _i++;
        Expr? stop = Current.IsOperator("]") || Current.IsOperator(":") ? null : ParseExpression();
        Expr? step = null;
        if (Current.IsOperator(":"))
        {
            _i++;
            step = Current.IsOperator("]") ? null : ParseExpression();
        }

        ExpectOperator("]");
        return new SliceExpr(open.Offset, node, start, stop, step);
    }

    private Arguments ParseCallArguments()
    {
        ExpectOperator("(");
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        while (!Current.IsOperator(")"))
        {
            if (positional.Count + keywords.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator(")"))
                {
                    break;
                }
            }

            if (Current.IsOperator("*") || Current.IsOperator("**"))
            {
                throw Error(Current, "argument unpacking (*args, **kwargs) is not supported");
            }

            if (Current.Kind == TokenKind.Name && Peek(1).IsOperator("="))
            {
                var name = _tokens[_i].Value;
                _i += 2;
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0)
                {
                    throw Error(Current, "positional argument follows keyword argument");
                }

                positional.Add(ParseExpression());
            }
        }

        _i++;
        return new Arguments([.. positional], [.. keywords]);
    }

    private Expr ParseFilterAndTests(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                _i++;
                var filter = ParseFilterCall();
                node = new FilterExpr(filter.Offset, node, filter);
            }
            else if (Current.IsName("is"))
            {
                node = ParseTest(node);
            }
            else if (Current.IsOperator("("))
            {
                node = new CallExpr(node.Offset, node, ParseCallArguments());
            }
            else
            {
                return node;
            }
        }
    }

    private FilterCall ParseFilterCall()
    {
        var nameToken = Current;
        var name = ExpectName("a filter name");
        if (!TemplateFilters.Exists(name))
        {
            throw Error(nameToken, $"unknown filter '{name}'");
        }

        var arguments = Current.IsOperator("(") ? ParseCallArguments() : Arguments.None;
        return new FilterCall(nameToken.Offset, name, arguments);
    }

    private TestExpr ParseTest(Expr operand)
    {
        var isToken = _tokens[_i++];
        var negated = false;
        if (Current.IsName("not"))
        {
            _i++;
            negated = true;
        }

        var nameToken = Current;
        var name = ExpectName("a test name");
        if (!TemplateTests.Exists(name))
        {
            throw Error(nameToken, $"unknown test '{name}'");
        }

        var arguments = Arguments.None;
        if (Current.IsOperator("("))
        {
            arguments = ParseCallArguments();
        }
        else if (StartsTestArgument(Current))
        {
            // Jinja allows one argument without parentheses: "x is divisibleby 3", "x is sameas none".
            arguments = new Arguments([ParsePostfix(ParsePrimary())], []);
        }

        return new TestExpr(isToken.Offset, operand, name, arguments, negated);
    }

    private static bool StartsTestArgument(Token token) =>
        token.Kind switch
        {
            TokenKind.Name => token.Value is not ("else" or "or" or "and" or "is" or "if" or "in" or "not"),
            TokenKind.String or TokenKind.Integer or TokenKind.Float => true,
            TokenKind.Operator => token.Value is "[" or "{",
            _ => false,
        };
}
