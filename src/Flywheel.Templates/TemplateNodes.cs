namespace Flywheel.Templates;

// The template's syntax tree. Every node carries the offset of its first token in the normalized
// source, so render errors can name a line and column.

internal abstract record Stmt(int Offset);

internal sealed record TextStmt(int Offset, string Text) : Stmt(Offset);

/// <summary><c>{{ value }}</c>.</summary>
internal sealed record OutputStmt(int Offset, Expr Value) : Stmt(Offset);

internal sealed record IfStmt(int Offset, IfBranch[] Branches, Stmt[]? Else) : Stmt(Offset);

internal sealed record IfBranch(Expr Test, Stmt[] Body);

/// <summary><c>{% for target in iterable [if filter] %} body [{% else %} else] {% endfor %}</c>.</summary>
internal sealed record ForStmt(int Offset, Target Target, Expr Iterable, Expr? Filter, Stmt[] Body, Stmt[]? Else)
    : Stmt(Offset);

/// <summary><c>{% set target = value %}</c>.</summary>
internal sealed record SetStmt(int Offset, Target Target, Expr Value) : Stmt(Offset);

/// <summary><c>{% set name [| filters] %} body {% endset %}</c>: the rendered body becomes the value.</summary>
internal sealed record BlockSetStmt(int Offset, Target Target, FilterCall[] Filters, Stmt[] Body) : Stmt(Offset);

internal sealed record MacroStmt(int Offset, string Name, MacroParameter[] Parameters, Stmt[] Body) : Stmt(Offset);

internal sealed record MacroParameter(string Name, Expr? Default);

internal sealed record BreakStmt(int Offset) : Stmt(Offset);

internal sealed record ContinueStmt(int Offset) : Stmt(Offset);

/// <summary><c>{% filter name %} body {% endfilter %}</c>.</summary>
internal sealed record FilterBlockStmt(int Offset, FilterCall[] Filters, Stmt[] Body) : Stmt(Offset);

/// <summary>A body rendered in the enclosing scope (transformers' <c>{% generation %}</c> block).</summary>
internal sealed record GroupStmt(int Offset, Stmt[] Body) : Stmt(Offset);

internal abstract record Target(int Offset);

internal sealed record NameTarget(int Offset, string Name) : Target(Offset);

internal sealed record TupleTarget(int Offset, string[] Names) : Target(Offset);

/// <summary><c>ns.attribute</c> on a namespace() object.</summary>
internal sealed record AttributeTarget(int Offset, string Object, string Attribute) : Target(Offset);

internal abstract record Expr(int Offset);

internal sealed record ConstExpr(int Offset, object? Value) : Expr(Offset);

internal sealed record ListExpr(int Offset, Expr[] Items) : Expr(Offset);

internal sealed record TupleExpr(int Offset, Expr[] Items) : Expr(Offset);

internal sealed record DictExpr(int Offset, (Expr Key, Expr Value)[] Pairs) : Expr(Offset);

internal sealed record NameExpr(int Offset, string Name) : Expr(Offset);

/// <summary><c>target.name</c> (Jinja getattr: attribute first, then item).</summary>
internal sealed record AttrExpr(int Offset, Expr Target, string Name) : Expr(Offset);

/// <summary><c>target[index]</c> (Jinja getitem: item first, then attribute).</summary>
internal sealed record ItemExpr(int Offset, Expr Target, Expr Index) : Expr(Offset);

internal sealed record SliceExpr(int Offset, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Offset);

internal sealed record CallExpr(int Offset, Expr Callee, Arguments Arguments) : Expr(Offset);

internal sealed record FilterExpr(int Offset, Expr Operand, FilterCall Filter) : Expr(Offset);

internal sealed record FilterCall(int Offset, string Name, Arguments Arguments);

internal sealed record TestExpr(int Offset, Expr Operand, string Name, Arguments Arguments, bool Negated) : Expr(Offset);

/// <summary>Unary "-", "+" or "not".</summary>
internal sealed record UnaryExpr(int Offset, string Operator, Expr Operand) : Expr(Offset);

/// <summary>Arithmetic (+ - * / // % **), concatenation (~) and the short-circuit "and" / "or".</summary>
internal sealed record BinaryExpr(int Offset, string Operator, Expr Left, Expr Right) : Expr(Offset);

/// <summary>A comparison chain: <c>a &lt; b &lt;= c</c> means <c>a &lt; b and b &lt;= c</c>.</summary>
internal sealed record CompareExpr(int Offset, Expr First, (string Operator, Expr Operand)[] Rest) : Expr(Offset);

/// <summary><c>then if test else otherwise</c>; a missing else yields undefined.</summary>
internal sealed record CondExpr(int Offset, Expr Test, Expr Then, Expr? Else) : Expr(Offset);

internal sealed record Arguments(Expr[] Positional, (string Name, Expr Value)[] Keywords)
{
    public static readonly Arguments None = new([], []);
}
