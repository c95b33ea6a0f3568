"""Custom activations written as a formula in x: `activation: {formula: "x/(1+abs(x))"}`.

Spec text is data, never code: the formula is read by the small parser below, which
knows a fixed grammar and builds the SymPy expression itself. Nothing here hands spec
text to eval, sympify, parse_expr or lambdify. The grammar (lowest precedence first):

    formula := sum END
    sum     := product (('+' | '-') product)*
    product := unary (('*' | '/') unary)*
    unary   := '-' unary | power
    power   := atom ('^' unary)?          (** is the same as ^; right-associative)
    atom    := NUMBER | 'x' | FUNCTION '(' sum ')' | '(' sum ')'

so -x^2 is -(x^2), 2^-1 is 1/2 and x^3^2 is x^9. NUMBER is a plain decimal with an
optional exponent (2, 0.5, .5, 1e-3). FUNCTION is one of FUNCTIONS. The result must be
an expression SymPy differentiates and derive evaluates, so:

- at most MAX_LENGTH characters, nested at most MAX_DEPTH levels (bounded recursion);
- an exponent is a constant of size at most MAX_EXPONENT: SymPy computes constant
  powers exactly, and 9^9^9 would not finish (for b^x write exp(x*log(b)));
- every constant part has a finite real value of size at most MAX_CONSTANT
  (no 1/0, log(-1), 1e300^10);
- exp and sigmoid (sin, cos) never see an argument that could be astronomically large
  (exp(exp(x)), exp(1/x)): mpmath cannot overflow, it would compute for ever (growth);
- the formula depends on x, and its derivative is finite and can be evaluated;
- SymPy does at most MAX_WORK steps of work on it (functions nested in functions, such
  as tanh(tanh(...)), make SymPy's questions about them exponentially costly).
At run time `guarded` turns what a formula cannot take (1/x at 0) into a NumericError.

Numbers are exact rationals (0.5 is 1/2), so the formula and its derivative print
exactly as written, not rounded to the document's digits.
"""
from __future__ import annotations

import math
import re
import sys
from decimal import Decimal
from functools import lru_cache
from typing import Callable, NamedTuple, Union

import sympy

from .budget import WorkExceeded, bounded
from .errors import DeriveError

MAX_LENGTH = 200
MAX_DEPTH = 30
MAX_EXPONENT = 10
MAX_CONSTANT = 1e15
# Python calls SymPy may make to check a formula (derive.budget): about 1 to 3 s. The
# built-in activations and the usual formulas (softsign, swish, mish, GELU) take under
# 100,000; tanh nested 7 deep takes 1.5 million, and each level 4 times more.
MAX_WORK = 2_000_000
LARGEST, SMALLEST = Decimal("1e15"), Decimal("1e-15")  # number literals, in size
FUNCTIONS = ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "sin", "cos")
ALLOWED = f"numbers, x, + - * / ^, parentheses, {' '.join(FUNCTIONS)}"

NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPERATORS = ("**", "+", "-", "*", "/", "^", "(", ")")


class FormulaError(DeriveError):
    """A formula outside the grammar or its limits; `column` is 1-based (None: no one place)."""

    def __init__(self, message: str, column: int | None = None, hint: str = "") -> None:
        super().__init__(message.replace("{formula}", "the formula"))
        self.message, self.column, self.hint = message, column, hint

    def describe(self, text: str) -> str:
        """The message for a user, quoting the formula: after the column for an error at
        one place, where the message says {formula} for the others."""
        quoted = f'"{text}"'
        if self.column is not None:
            message = f"{self.message} at column {self.column} of {quoted}"
        else:
            message = self.message.replace("{formula}", f"the formula {quoted}")
        return f"{message} ({self.hint})" if self.hint else message


class Token(NamedTuple):
    kind: str  # "number", "x", "function", an operator ("+", "^", "(", ...), or "end"
    text: str
    column: int  # 1-based


# The parse tree: small tuples, so that checking needs no SymPy.
class Num(NamedTuple):
    value: Decimal
    text: str
    column: int


class Var(NamedTuple):
    column: int


class Neg(NamedTuple):
    operand: Node
    column: int


class Bin(NamedTuple):
    op: str  # + - * / ^
    left: Node
    right: Node
    column: int  # of the operator


class Call(NamedTuple):
    function: str
    argument: Node
    column: int


Node = Union[Num, Var, Neg, Bin, Call]


def tokenize(text: str) -> list[Token]:
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        number = NUMBER.match(text, i)
        if number:
            tokens.append(Token("number", number.group(), i + 1))
            i = number.end()
            continue
        word = WORD.match(text, i)
        if word:
            name = word.group()
            if name == "x":
                tokens.append(Token("x", name, i + 1))
            elif name in FUNCTIONS:
                tokens.append(Token("function", name, i + 1))
            else:
                raise FormulaError(f"unknown name {shown(name)!r}", i + 1, f"allowed: {ALLOWED}")
            i = word.end()
            continue
        operator = next((op for op in OPERATORS if text.startswith(op, i)), None)
        if operator is None:
            raise FormulaError(f"unexpected {ch!r}", i + 1, f"allowed: {ALLOWED}")
        tokens.append(Token("^" if operator == "**" else operator, operator, i + 1))
        i += len(operator)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def shown(text: str) -> str:
    return text if len(text) <= 20 else text[:17] + "..."


class Parser:
    """Recursive descent over the tokens; `depth` bounds how deep it may recurse."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    @property
    def next(self) -> Token:
        return self.tokens[self.position]

    def take(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def deeper(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"the formula nests more than {MAX_DEPTH} levels deep", token.column)

    def formula(self) -> Node:
        node = self.sum()
        token = self.next
        if token.kind != "end":
            hint = "write * to multiply" if token.kind in ("number", "x", "function", "(") else ""
            if token.kind == ")":
                raise FormulaError("unexpected ')' with no '(' to close", token.column)
            raise FormulaError(f"unexpected {token.text!r}", token.column, hint)
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.next.kind in ("+", "-"):
            op = self.take()
            node = Bin(op.kind, node, self.product(), op.column)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.next.kind in ("*", "/"):
            op = self.take()
            node = Bin(op.kind, node, self.unary(), op.column)
        return node

    def unary(self) -> Node:
        if self.next.kind == "-":
            minus = self.take()
            self.deeper(minus)
            node = Neg(self.unary(), minus.column)
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.next.kind != "^":
            return base
        op = self.take()
        self.deeper(op)
        exponent = self.unary()  # right-associative: x^2^3 = x^(2^3); x^-1 allowed
        self.depth -= 1
        return Bin("^", base, exponent, op.column)

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Num(Decimal(token.text), token.text, token.column)
        if token.kind == "x":
            return Var(token.column)
        if token.kind == "function":
            opening = self.take()
            if opening.kind != "(":
                raise FormulaError(f"expected '(' after {token.text!r}", opening.column)
            return Call(token.text, self.group(opening), token.column)
        if token.kind == "(":
            return self.group(token)
        if token.kind == "end":
            raise FormulaError("the formula ends too early", token.column,
                               "expected a number, x, a function or '('")
        raise FormulaError(f"unexpected {token.text!r}", token.column,
                           "expected a number, x, a function or '('")

    def group(self, opening: Token) -> Node:
        """The inside of ( ... ) after `opening`, and the closing parenthesis."""
        self.deeper(opening)
        node = self.sum()
        self.depth -= 1
        closing = self.take()
        if closing.kind != ")":
            if closing.kind == "end":
                raise FormulaError("missing ')'", closing.column,
                                   f"to close the '(' at column {opening.column}")
            hint = "write * to multiply" if closing.kind in ("number", "x", "function", "(") else ""
            raise FormulaError(f"unexpected {closing.text!r}", closing.column,
                               hint or f"expected ')' for the '(' at column {opening.column}")
        return node


def parse(text: str) -> Node:
    """The parse tree of `text`; raise FormulaError for anything outside the grammar."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long; the limit is {MAX_LENGTH}",
                           hint="write it shorter")
    if not text.strip():
        raise FormulaError("the formula is empty", hint="write f(x), such as x/(1+abs(x))")
    node = Parser(tokenize(text)).formula()
    check_constants(node)
    if not uses_x(node):
        raise FormulaError("{formula} does not use x", hint="an activation is a function of x")
    growth(node)
    return node


# --- checks on the tree, before SymPy sees it ---------------------------------------------

def uses_x(node: Node) -> bool:
    if isinstance(node, Var):
        return True
    if isinstance(node, Num):
        return False
    if isinstance(node, (Neg, Call)):
        return uses_x(node.operand if isinstance(node, Neg) else node.argument)
    return uses_x(node.left) or uses_x(node.right)


FLOAT_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs, "tanh": math.tanh,
    "sin": math.sin, "cos": math.cos,
    "sigmoid": lambda u: 1 / (1 + math.exp(-u)) if u >= 0 else math.exp(u) / (1 + math.exp(u)),
}


def check_constants(node: Node) -> float | None:
    """The value of `node` if it is constant (None if it uses x), checking on the way
    that every constant is finite, real and not too large, and every exponent is a
    small constant. Floats are enough here: they only decide what is allowed."""
    if isinstance(node, Var):
        return None
    if isinstance(node, Num):
        # compared as decimals: 1e-999999999 is not 0 as a float would have it (and its
        # exact fraction would take SymPy forever to build)
        if node.value and not SMALLEST <= node.value.copy_abs() <= LARGEST:
            raise FormulaError(f"the number {shown(node.text)} is out of range", node.column,
                               "numbers are 0 or between 1e-15 and 1e15 in size")
        return float(node.value)
    if isinstance(node, Neg):
        inner = check_constants(node.operand)
        return None if inner is None else -inner
    if isinstance(node, Call):
        inner = check_constants(node.argument)
        return None if inner is None else constant(lambda: FLOAT_FUNCTIONS[node.function](inner),
                                                   node.column, f"{node.function}(...)")
    left, right = check_constants(node.left), check_constants(node.right)
    if node.op == "^":
        if right is None:
            raise FormulaError("the exponent after '^' uses x", node.column,
                               "an exponent must be a number; for b^x write exp(x*log(b))")
        if abs(right) > MAX_EXPONENT:
            raise FormulaError(f"the exponent after '^' is {right:g}; the limit is {MAX_EXPONENT} in size",
                               node.column)
    if node.op == "/" and right == 0:
        raise FormulaError("division by zero", node.column)
    if left is None or right is None:
        return None
    operations = {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
                  "/": lambda: left / right, "^": lambda: left ** right}
    return constant(operations[node.op], node.column, f"'{node.op}'")


def constant(compute: Callable[[], float], column: int, what: str) -> float:
    try:
        value = compute()
    except ZeroDivisionError:
        raise FormulaError(f"division by zero in {what}", column) from None
    except (ValueError, OverflowError):
        value = math.nan
    if isinstance(value, complex) or not math.isfinite(value):
        raise FormulaError(f"the value of {what} is not a finite real number", column)
    if abs(value) > MAX_CONSTANT:
        raise FormulaError(f"the value of {what} is too large ({value:.3g})", column,
                           "constants are at most 1e15 in size")
    return value


# How large values can get. mpmath has no overflow: exp(exp(x)) at x = 1000 is a number
# with a 1500-bit exponent, and computing exp of *that* would not finish. So before a
# formula is accepted, bounds on log2|value| are carried up its tree, with |z| at most
# MAX_Z (evaluation refuses larger z: see guarded); exp and sigmoid may only take
# arguments up to 2^EXP_BITS in size (x^2 is fine, exp(exp(x)) or exp(1/x) is not), sin
# and cos up to 2^TRIG_BITS. (Each costs well under a second at those sizes.)
MAX_Z = sys.float_info.max  # below 2^1024
Z_BITS = 1024.0
EXP_BITS = 2100.0
TRIG_BITS = 20000.0
INF = math.inf
NONNEGATIVE = ("abs", "exp", "sqrt", "sigmoid")


def growth(node: Node) -> tuple[float, float]:
    """(H, L): every nonzero value of `node` has H >= log2|value| >= L, for |x| <= MAX_Z."""
    if not uses_x(node):
        value = abs(check_constants(node))  # type: ignore[arg-type]
        return (math.log2(value), math.log2(value)) if value else (0.0, 0.0)
    if isinstance(node, Var):
        return Z_BITS, -INF
    if isinstance(node, Neg):
        return growth(node.operand)
    if isinstance(node, Call):
        high, low = growth(node.argument)
        limit = {"exp": EXP_BITS, "sigmoid": EXP_BITS, "sin": TRIG_BITS, "cos": TRIG_BITS}.get(node.function)
        if limit is not None and high > limit:
            rule = ("exp and sigmoid of exp, of 1/x or of powers above x^2 are not allowed"
                    if limit == EXP_BITS else "sin and cos of exp or of 1/x are not allowed")
            raise FormulaError(f"the argument of {node.function} can grow too large to compute",
                               node.column, f"for |x| up to 1e308 it could exceed 2^{limit:.0f}; {rule}")
        if node.function in ("exp", "sigmoid"):
            top = 1.45 * 2.0 ** high if high < 1000 else INF
            return (top, -top) if node.function == "exp" else (0.0, -top - 1)
        if node.function == "tanh":
            return 0.0, min(low, 0.0) - 1
        if node.function in ("sin", "cos"):
            return 0.0, -INF
        if node.function == "log":
            return math.log2(max(high, -low, 1.0) + 1) + 1, -INF
        if node.function == "sqrt":
            return high / 2, low / 2
        return high, low  # abs
    (high_a, low_a), (high_b, low_b) = growth(node.left), growth(node.right)
    if node.op in ("+", "-"):
        low = -INF  # a difference can cancel to almost nothing
        if node.op == "+" and nonnegative(node.left) and nonnegative(node.right):
            low = max(low_a, low_b)  # 1 + abs(x) >= 1
        return max(high_a, high_b) + 1, low
    if node.op == "*":
        return high_a + high_b, low_a + low_b
    if node.op == "/":
        return high_a - low_b, low_a - high_b
    power = check_constants(node.right)  # a small constant (checked)
    if not power:
        return 0.0, 0.0
    return (power * high_a, power * low_a) if power > 0 else (power * low_a, power * high_a)


def nonnegative(node: Node) -> bool:
    if isinstance(node, Num):
        return node.value >= 0
    if isinstance(node, Call):
        return node.function in NONNEGATIVE
    if isinstance(node, Bin) and node.op == "^":
        power = check_constants(node.right)
        return power is not None and power == int(power) and int(power) % 2 == 0
    if isinstance(node, Bin) and node.op in ("+", "*", "/"):
        return nonnegative(node.left) and nonnegative(node.right)
    return False


# --- to SymPy -------------------------------------------------------------------------------

def sigmoid(u: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-u))


SYMPY_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs, "tanh": sympy.tanh,
    "sin": sympy.sin, "cos": sympy.cos, "sigmoid": sigmoid,
}


def to_sympy(node: Node, x: sympy.Symbol) -> sympy.Expr:
    if isinstance(node, Var):
        return x
    if isinstance(node, Num):
        numerator, denominator = node.value.as_integer_ratio()
        return sympy.Rational(numerator, denominator)
    if isinstance(node, Neg):
        return -to_sympy(node.operand, x)
    if isinstance(node, Call):
        return SYMPY_FUNCTIONS[node.function](to_sympy(node.argument, x))
    left, right = to_sympy(node.left, x), to_sympy(node.right, x)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if node.op == "/":
        return left / right
    return left ** right


UNDEFINED = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan, sympy.I)


def tidy(derivative: sympy.Expr) -> sympy.Expr:
    """SymPy's derivative in a shorter equal form if there is one, as a student would
    write it: u sign(u) is |u| (u is real), and the terms over one denominator, so that
    softsign' is 1/(|x| + 1)^2 rather than 1/(|x| + 1) - x sign(x)/(|x| + 1)^2. Only
    exact rewritings that cannot blow up (together combines fractions, expanding nothing)."""
    signs = {s.args[0] for s in derivative.atoms(sympy.sign)}
    flat = derivative.subs({u * sympy.sign(u): sympy.Abs(u) for u in signs}) if signs else derivative
    best = derivative
    for candidate in (flat, sympy.together(flat), sympy.together(derivative)):
        if len(str(candidate)) < len(str(best)):
            best = candidate
    return best


@lru_cache(maxsize=256)
def expressions(text: str, z: sympy.Symbol) -> tuple[sympy.Expr, sympy.Expr]:
    """(f(z), f'(z)) for the formula `text` in x, written in `z`.

    SymPy differentiates with respect to a *real* symbol, so that |x|' is sign(x)
    (for a complex symbol it is a tangle of re and im), and the results are then
    written in `z`. Raises FormulaError if the formula cannot be used.
    """
    from .numeric import compile_numeric

    real = sympy.Symbol("x", real=True)
    definition = to_sympy(parse(text), real)
    if real not in definition.free_symbols:
        raise FormulaError("{formula} does not depend on x (it simplifies to "
                           f"{shown(str(definition))})")
    if definition.has(*UNDEFINED):
        raise FormulaError("{formula} has no finite real value (SymPy finds a division by "
                           "zero, or the root or log of a negative number)")
    derivative = tidy(sympy.diff(definition, real))
    if derivative.has(sympy.Derivative, sympy.Subs) or derivative.has(*UNDEFINED):
        raise FormulaError("SymPy cannot give a usable derivative of {formula}")
    result = definition.xreplace({real: z}), derivative.xreplace({real: z})
    try:
        for expr in result:
            compile_numeric((z,), expr)
    except DeriveError:
        from .numeric import FUNCTIONS as KNOWN
        found = sorted({type(f).__name__ for expr in result for f in expr.atoms(sympy.Function)
                        if type(f) not in KNOWN})
        raise FormulaError("SymPy's derivative of {formula} uses " + (", ".join(found) or "a function")
                           + ", which derive cannot evaluate",
                           hint="SymPy allows for a complex value, as of abs(sqrt(x)) "
                                "below 0") from None
    return result


def problem(text: str) -> str | None:
    """What is wrong with the formula `text`, for a spec error; None if it is usable.

    The work SymPy does is bounded (MAX_WORK): the expressions, and once more what the
    derivation does for every neuron (the same expressions written in that neuron's z),
    so that an accepted formula costs at most about that much per neuron.
    """
    try:
        with bounded(MAX_WORK):
            z, probe = sympy.Symbol("z"), sympy.Symbol("z_probe")
            for expr in expressions(text, z):
                expr.xreplace({z: probe})
    except FormulaError as err:
        return err.describe(text)
    except RecursionError:  # cannot happen within MAX_DEPTH; a clean message if it ever does
        return f'the formula "{text}" is too deeply nested'
    except WorkExceeded:
        depth = call_depth(parse(text))
        nesting = f"; it nests {depth} functions in one another" if depth > 2 else ""
        return (f'SymPy cannot work with the formula "{text}" in reasonable time (more than '
                f"{MAX_WORK:,} steps{nesting}); each function nested in another multiplies the work: "
                "write it with fewer levels")
    return None


def call_depth(node: Node) -> int:
    """How many functions are nested in one another: 2 in tanh(x*tanh(x))."""
    if isinstance(node, Call):
        return 1 + call_depth(node.argument)
    if isinstance(node, Neg):
        return call_depth(node.operand)
    if isinstance(node, Bin):
        return max(call_depth(node.left), call_depth(node.right))
    return 0


def guarded(function: Callable[..., object], name: str, text: str) -> Callable[..., object]:
    """`function` (a compiled f, f' or worked f', whose last argument is z) refusing what a
    formula cannot be evaluated at with a NumericError: |z| beyond MAX_Z (growth assumes
    it), division by zero (1/x at 0), mpmath's own overflow, and values beyond a double
    (exp(x) at z = 1000), which the next layer would feed to exp again."""
    import mpmath

    from .errors import NumericError

    def value(*args: object) -> object:
        z = args[-1]
        activation = f'the activation {name} = "{text}"'
        if abs(z) > MAX_Z:  # type: ignore[operator]
            raise NumericError(f"{activation} is evaluated only for |z| up to 1e308; "
                               "the network's values are too large")
        try:
            result = function(*args)
        except ZeroDivisionError:
            raise NumericError(f"{activation} divides by zero at z = {mpmath.nstr(z, 8)}") from None
        except (ArithmeticError, ValueError):  # mpmath at the edge: tanh(exp(1e300)) overflows
            raise NumericError(f"{activation} or its derivative cannot be computed at "
                               f"z = {mpmath.nstr(z, 8)}; the network's values are too large") from None
        if not mpmath.isfinite(result) or abs(result) > MAX_Z:  # type: ignore[operator, arg-type]
            what = "beyond 1e308 in size" if mpmath.isfinite(result) else f"{result}"
            raise NumericError(f"{activation} or its derivative is {what} at "
                               f"z = {mpmath.nstr(z, 8)}, not a finite number that fits a double")
        return result
    return value
