using System.Globalization;

namespace Flywheel.Templates;

// Expressions, by increasing precedence (as in Jinja's parser):
// conditional (x if c else y) < or < and < not < comparisons (== != < <= > >= in, not in)
// < + - < ~ < * / // % < ** < unary - + < postfix (.attr [item] (call)) and, at the same level,
// filters (| f) and tests (is t). So "not x is defined" is "not (x is defined)" and "-x|abs" is "(-x)|abs".
internal sealed partial class TemplateParser
{
    private static readonly string[] CompareOperators = ["==", "!=", "<", ">", "<=", ">="];

    /// <summary>Expressions separated by commas form a tuple (<c>{% set a, b = 1, 2 %}</c>).</summary>
    private Expr ParseTuple(bool withCondExpr = true, string? extraEnd = null, bool explicitParentheses = false)
    {
        var start = Current;
        var items = new List<Expr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                ExpectOperator(",");
            }

            if (Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOperator(")") ||
                (extraEnd is not null && Current.IsName(extraEnd)))
            {
                break;
            }

            items.Add(withCondExpr ? ParseExpression() : ParseOr());
            if (Current.IsOperator(","))
            {
                isTuple = true;
            }
            else
            {
                break;
            }
        }

        if (!isTuple)
        {
            if (items.Count == 1)
            {
                return items[0];
            }

            if (!explicitParentheses)
            {
                throw Unexpected("an expression");
            }
        }

        return new TupleExpr(start.Offset, [.. items]);
    }

    private Expr ParseExpression()
    {
        Enter();
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            var at = _tokens[_i++].Offset;
            var test = ParseOr();
            Expr? otherwise = null;
            if (Current.IsName("else"))
            {
                _i++;
                otherwise = ParseExpression();
            }

            expr = new CondExpr(at, test, expr, otherwise);
        }

        _nesting--;
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var at = _tokens[_i++].Offset;
            left = new BinaryExpr(at, "or", left, ParseAnd());
        }

        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var at = _tokens[_i++].Offset;
            left = new BinaryExpr(at, "and", left, ParseNot());
        }

        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not"))
        {
            return ParseCompare();
        }

        Enter();
        var at = _tokens[_i++].Offset;
        var operand = ParseNot();
        _nesting--;
        return new UnaryExpr(at, "not", operand);
    }

    private Expr ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && Array.IndexOf(CompareOperators, Current.Value) >= 0)
            {
                var op = _tokens[_i++].Value;
                rest.Add((op, ParseMath1()));
            }
            else if (Current.IsName("in"))
            {
                _i++;
                rest.Add(("in", ParseMath1()));
            }
            else if (Current.IsName("not") && Peek(1).IsName("in"))
            {
                _i += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else
            {
                break;
            }
        }

        return rest.Count == 0 ? first : new CompareExpr(first.Offset, first, [.. rest]);
    }

    private Expr ParseMath1() => ParseLeftAssociative(ParseConcat, "+", "-");

    private Expr ParseConcat() => ParseLeftAssociative(ParseMath2, "~");

    private Expr ParseMath2() => ParseLeftAssociative(ParsePow, "*", "/", "//", "%");

    private Expr ParsePow() => ParseLeftAssociative(() => ParseUnary(), "**");

    private Expr ParseLeftAssociative(Func<Expr> operand, params string[] operators)
    {
        var left = operand();
        while (Current.Kind == TokenKind.Operator && Array.IndexOf(operators, Current.Value) >= 0)
        {
            var token = _tokens[_i++];
            left = new BinaryExpr(token.Offset, token.Value, left, operand());
        }

        return left;
    }

    private Expr ParseUnary(bool withFilter = true)
    {
        Enter();
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var token = _tokens[_i++];
            node = new UnaryExpr(token.Offset, token.Value, ParseUnary(withFilter: false));
        }
        else
        {
            node = ParsePrimary();
        }

        node = ParsePostfix(node);
        if (withFilter)
        {
            node = ParseFilterAndTests(node);
        }

        _nesting--;
        return node;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                _i++;
                return token.Value switch
                {
                    "true" or "True" => new ConstExpr(token.Offset, true),
                    "false" or "False" => new ConstExpr(token.Offset, false),
                    "none" or "None" => new ConstExpr(token.Offset, null),
                    _ => new NameExpr(token.Offset, token.Value),
                };
            case TokenKind.String:
                // Adjacent string literals concatenate, as in Python.
                var text = token.Value;
                _i++;
                while (Current.Kind == TokenKind.String)
                {
                    text += _tokens[_i++].Value;
                }

                return new ConstExpr(token.Offset, text);
            case TokenKind.Integer:
                _i++;
                if (!long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var integer))
                {
                    throw Error(token, $"integer literal {token.Value} is too large");
                }

                return new ConstExpr(token.Offset, integer);
            case TokenKind.Float:
                _i++;
                return new ConstExpr(token.Offset, double.Parse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture));
            case TokenKind.Operator when token.Value == "(":
                _i++;
                var inner = ParseTuple(explicitParentheses: true);
                ExpectOperator(")");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                _i++;
                return new ListExpr(token.Offset, ParseSequence("]"));
            case TokenKind.Operator when token.Value == "{":
                _i++;
                return ParseDict(token);
            default:
                throw Unexpected("an expression");
        }
    }

    private Expr[] ParseSequence(string close)
    {
        var items = new List<Expr>();
        while (!Current.IsOperator(close))
        {
            if (items.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator(close))
                {
                    break;
                }
            }

            items.Add(ParseExpression());
        }

        _i++;
        return [.. items];
    }

    private DictExpr ParseDict(Token open)
    {
        var pairs = new List<(Expr, Expr)>();
        while (!Current.IsOperator("}"))
        {
            if (pairs.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator("}"))
                {
                    break;
                }
            }

            var key = ParseExpression();
            ExpectOperator(":");
            pairs.Add((key, ParseExpression()));
        }

        _i++;
        return new DictExpr(open.Offset, [.. pairs]);
    }
}
