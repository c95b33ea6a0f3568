"""An independent line checker for derive's Markdown answer keys (issue 9).

A student who redoes a line of a key with the numbers it shows must get the number it
shows. This module reads the Markdown text of a key, finds every numeric line in its
display math, and recomputes it from the shown operands. It never imports derive: the
LaTeX is tokenised and parsed here, rational arithmetic is done exactly with
`fractions.Fraction` (so 0.1 is 1/10), and exp, log, tanh ... with mpmath at 60 digits.

What a line is
--------------
Only display math (``$$ ... $$``) is read; inline math (tables, prose, shapes such as
``$(2 \\times 1)(1 \\times 1)$``) holds single values, not computations. Inside an
``aligned`` block, rows are split at ``\\\\`` (not inside ``cases``/``matrix``); a row
starting ``&\\quad`` or ``&\\qquad`` continues the previous expression, a row starting
``&=`` continues the previous chain. A statement ``lhs &= e1 = e2 = ... = v`` (or
``w &\\leftarrow e = v``) is split at its top-level ``=``/``\\leftarrow``; two
statements in one row (``..., \\quad w \\leftarrow ...``) are split at ``, \\quad``.
Each chain element is

* symbolic: it has a variable (a letter, ``\\delta``, ``\\partial``, ``\\hat``, ...) and
  is skipped on purpose;
* numeric: it parses to numbers, operators, brackets and known functions (\\frac,
  e^{..}, \\exp, \\ln, \\log = natural log as SymPy writes it, \\tanh, \\sigma, \\max,
  \\min, \\sqrt, |x|, powers, cases with numeric conditions, matrices); or
* unparseable: no variable but the parser fails, an unknown command, or a function it
  cannot evaluate applied to a number (\\operatorname{ReLU}'(5.02)). That is a loud
  failure (Report.unparsed), never a silent skip.

Every maximal run of numeric elements is a computation: each element but the last
must give the last (the shown value, a literal such as ``-0.2651``,
``\\left(-1.7 \\times 10^{-5}\\right)``, or a matrix of literals). The shown value's last
digit sets its unit u (0.0500 -> 0.0001, 1.707e-5 -> 1e-8, 6 -> 1).

* policy ``by-hand``: the exact value from the shown operands, rounded half away from
  zero at u, must equal the shown value.
* policy ``exact``: |exact value from the shown operands - shown| <= u.

A step from a sum of path products to the sum of their shown (rounded) path values,
``A1 + A2 = (p1) + (p2) = v``, is checked term by term (each Ai gives pi: kind "path
value"), and ``(p1) + (p2) = v`` as a "path sum". ``A1 + A2 = v`` is also checked in
exact mode; in by-hand mode it is not, since by hand each path is rounded first.

A ReLU row ``= 1 \\quad \\text{since } z = 5.02 > 0`` gives two checks: the stated
relation holds for the shown number ("relu condition"), and the chain's ``cases``
evaluated at that number gives the stated value ("relu branch").

Separately, every literal factor of a product (operand of ``\\cdot``, ``\\times``,
``\\odot`` or juxtaposition) with fewer than 3 significant figures is listed, unless
it is 0, an integer written without a point (|n| <= 100), or exactly a number given in
the problem's spec (passed in as `exact_values`).
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Iterable, Union

import mpmath

DPS = 60  # working precision for transcendental functions

# ---------------------------------------------------------------------------------------
# numbers


@dataclass(frozen=True)
class Literal:
    """A number as shown: its exact value, the unit of its last shown digit, its text."""

    value: Fraction
    ulp: Fraction
    sig: int  # significant figures shown (0 for a zero)
    integer: bool  # written without a decimal point or exponent
    text: str


@lru_cache(maxsize=None)
def literal_from_text(mantissa: str, exponent: int | None, text: str) -> Literal:
    if "." in mantissa:
        whole, frac = mantissa.split(".")
        decimals = len(frac)
    else:
        whole, frac, decimals = mantissa, "", 0
    digits = (whole + frac).lstrip("0")
    scale = Fraction(10) ** (exponent or 0)
    return Literal(Fraction(mantissa) * scale, Fraction(1, 10 ** decimals) * scale,
                   len(digits), exponent is None and decimals == 0, text)


def round_half_away(x: Fraction, ulp: Fraction) -> Fraction:
    q = abs(x) / ulp
    n = (q + Fraction(1, 2)).__floor__()
    return (n * ulp) if x >= 0 else -(n * ulp)


Scalar = Union[Fraction, "mpmath.mpf"]


class EvalError(Exception):
    """The shown operands do not give a number (log of 0, division by 0, ...)."""


class ParseError(Exception):
    pass


def to_fraction(x: Scalar) -> Fraction:
    if isinstance(x, Fraction):
        return x
    if not mpmath.isfinite(x):
        raise EvalError(f"not a finite number: {x}")
    sign, man, exp, _ = x._mpf_  # exactly (-1)**sign * man * 2**exp
    value = Fraction(int(man)) * (Fraction(2) ** int(exp))
    return -value if sign else value


def to_mpf(x: Scalar) -> Any:
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    return x


def show(x: Any) -> str:
    """A compact decimal form of a value, for messages."""
    if isinstance(x, Matrix):
        return "[" + "; ".join(", ".join(show(c) for c in row) for row in x.rows) + "]"
    if isinstance(x, Fraction):
        if x.denominator == 1:
            return str(x.numerator)
        x = to_mpf(x)
    return mpmath.nstr(x, 10, min_fixed=-6, max_fixed=8)


@dataclass
class Matrix:
    rows: list[list[Any]]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0])

    def map(self, f: Any) -> "Matrix":
        return Matrix([[f(c) for c in row] for row in self.rows])


def _scalar_op(op: str, a: Scalar, b: Scalar) -> Scalar:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise EvalError("division by zero")
        return a / b
    x, y = to_mpf(a), to_mpf(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0:
        raise EvalError("division by zero")
    return x / y


def arith(op: str, a: Any, b: Any) -> Any:
    """+, -, * (matrix product for two matrices), / and odot (entry by entry)."""
    am, bm = isinstance(a, Matrix), isinstance(b, Matrix)
    if not am and not bm:
        return _scalar_op("*" if op == "odot" else op, a, b)
    if am and bm:
        if op == "*":
            (n, k), (k2, m) = a.shape, b.shape
            if k != k2:
                raise EvalError(f"matrix product of shapes {a.shape} and {b.shape}")
            rows = []
            for i in range(n):
                row = []
                for j in range(m):
                    total: Any = Fraction(0)
                    for t in range(k):
                        total = _scalar_op("+", total, _scalar_op("*", a.rows[i][t], b.rows[t][j]))
                    row.append(total)
                rows.append(row)
            return Matrix(rows)
        if a.shape != b.shape:
            raise EvalError(f"entry-by-entry {op} of shapes {a.shape} and {b.shape}")
        sop = "*" if op == "odot" else op
        return Matrix([[_scalar_op(sop, x, y) for x, y in zip(ra, rb)]
                       for ra, rb in zip(a.rows, b.rows)])
    if op in ("+", "-"):
        raise EvalError("a matrix plus a number")
    if am:
        return a.map(lambda c: _scalar_op("*" if op == "odot" else op, c, b))
    if op == "/":
        raise EvalError("a number divided by a matrix")
    return b.map(lambda c: _scalar_op("*", a, c))


def power(base: Any, exponent: Any) -> Any:
    if isinstance(base, Matrix) or isinstance(exponent, Matrix):
        raise EvalError("power of a matrix")
    if isinstance(exponent, Fraction) and exponent.denominator == 1 and isinstance(base, Fraction):
        if base == 0 and exponent < 0:
            raise EvalError("0 to a negative power")
        return base ** exponent.numerator
    b = to_mpf(base)
    if b <= 0:
        raise EvalError(f"{show(base)} to a non-integer power")
    return mpmath.power(b, to_mpf(exponent))


def _scalar(x: Any, what: str) -> Scalar:
    if isinstance(x, Matrix):
        raise EvalError(f"{what} of a matrix")
    return x


def apply_function(name: str, args: list[Any]) -> Any:
    if name in ("max", "min"):
        values = [_scalar(a, name) for a in args]
        if len(values) < 2:
            raise EvalError(f"{name} of one argument")
        pick = max if name == "max" else min
        return pick(values, key=lambda v: to_fraction(v))
    if len(args) != 1:
        raise EvalError(f"{name} of {len(args)} arguments")
    x = _scalar(args[0], name)
    if name == "exp":
        return Fraction(1) if x == 0 else mpmath.exp(to_mpf(x))
    if name in ("ln", "log"):  # SymPy writes the natural logarithm as \log
        if x <= 0:
            raise EvalError(f"log of {show(x)}")
        return Fraction(0) if x == 1 else mpmath.log(to_mpf(x))
    if name == "tanh":
        return Fraction(0) if x == 0 else mpmath.tanh(to_mpf(x))
    if name == "sigma":
        return Fraction(1, 2) if x == 0 else 1 / (1 + mpmath.exp(-to_mpf(x)))
    if name == "sqrt":
        if x < 0:
            raise EvalError(f"square root of {show(x)}")
        return mpmath.sqrt(to_mpf(x))
    raise EvalError(f"unknown function {name}")


# ---------------------------------------------------------------------------------------
# tokens


@dataclass(frozen=True)
class Tok:
    kind: str  # NUM SYM FUNC FRAC EULER ADD SUB MUL ODOT DIV POW SUBSCRIPT PRIME OPEN CLOSE
    #            LBRACE RBRACE BAR_OPEN BAR_CLOSE BEGIN END TEXT COMMA EQ REL ARROW AMP NL UNK
    value: Any = None
    text: str = ""


NUM_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)"
                    r"(?:\s*\\times\s*10\s*\^\s*(?:\{\s*([-−]?\s*\d+)\s*\}|(\d)))?")
CMD_RE = re.compile(r"\\([A-Za-z]+)")
EULER_RE = re.compile(r"e\s*\^")
FUNCS = {"tanh", "ln", "log", "exp", "max", "min", "sigma", "sqrt"}
SYMBOLS = {"delta", "eta", "theta", "partial", "alpha", "beta", "gamma", "lambda", "mu",
           "nabla", "top", "hat", "mathbf", "boldsymbol", "bar", "tilde", "vec", "ell",
           "epsilon", "varepsilon", "phi", "psi", "omega", "Delta", "sum", "prod", "mathcal",
           "pi", "tau", "rho", "xi", "zeta", "nu", "kappa", "chi", "Sigma"}
SPACES = {",", ":", ";", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "left.",
          "right."}
RELS = {"leq": "<=", "le": "<=", "lt": "<", "geq": ">=", "ge": ">=", "gt": ">",
        "neq": "!="}
SIZED = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
         "big", "Big", "bigg", "Bigg"}
OPENING = {"left", "bigl", "Bigl", "biggl", "Biggl"}


def _braced(s: str, i: int) -> tuple[str, int]:
    """The text of the brace group opening at s[i] ('{'), and the index after it."""
    if i >= len(s) or s[i] != "{":
        raise ParseError(f"expected {{ at {s[i:i + 20]!r}")
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{" and (j == 0 or s[j - 1] != "\\"):
            depth += 1
        elif s[j] == "}" and (j == 0 or s[j - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return s[i + 1:j], j + 1
    raise ParseError(f"unbalanced braces in {s!r}")


def tokenize(s: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace() or c == "~":
            i += 1
            continue
        m = NUM_RE.match(s, i)
        if m and c != ".":
            exp_text = m.group(2) or m.group(3)
            exponent = int(exp_text.replace("−", "-").replace(" ", "")) if exp_text else None
            toks.append(Tok("NUM", literal_from_text(m.group(1), exponent, m.group(0)), m.group(0)))
            i = m.end()
            continue
        if c == "\\":
            m = CMD_RE.match(s, i)
            if not m:
                ch = s[i + 1:i + 2]
                i += 2
                if ch == "\\":
                    toks.append(Tok("NL", text="\\\\"))
                elif ch in (",", ":", ";", "!", " "):
                    pass
                elif ch == "{":
                    toks.append(Tok("OPEN", "{", "\\{"))
                elif ch == "}":
                    toks.append(Tok("CLOSE", "}", "\\}"))
                elif ch == "|":
                    toks.append(Tok("UNK", text="\\|"))
                else:
                    toks.append(Tok("UNK", text="\\" + ch))
                continue
            name = m.group(1)
            i += len(m.group(0))
            if name in SIZED:
                while i < n and s[i].isspace():
                    i += 1
                delim = s[i:i + 1]
                if delim == "\\":
                    delim = s[i:i + 2]
                i += len(delim)
                if delim == ".":
                    continue
                opening = name in OPENING
                if name in ("big", "Big", "bigg", "Bigg"):
                    opening = delim in ("(", "[", "\\{")
                if delim == "|":
                    toks.append(Tok("BAR_OPEN" if opening else "BAR_CLOSE", text="|"))
                elif delim in ("(", "[", "\\{") and opening:
                    toks.append(Tok("OPEN", delim[-1], "\\" + name + delim))
                elif delim in (")", "]", "\\}") and not opening:
                    toks.append(Tok("CLOSE", delim[-1], "\\" + name + delim))
                else:
                    toks.append(Tok("UNK", text=f"\\{name}{delim}"))
                continue
            if name in ("begin", "end"):
                env, i = _braced(s, i)
                toks.append(Tok("BEGIN" if name == "begin" else "END", env, f"\\{name}{{{env}}}"))
                continue
            if name in ("text", "mathrm", "textrm", "textbf", "mbox"):
                content, i = _braced(s, i)
                if name == "mathrm" and re.fullmatch(r"[A-Za-z]", content.strip()):
                    toks.append(Tok("SYM", content, f"\\mathrm{{{content}}}"))  # \mathrm{d}
                elif name == "mathrm" and re.fullmatch(r"[A-Za-z]+", content.strip()):
                    toks.append(Tok("FUNC", content.strip(), f"\\mathrm{{{content}}}"))
                else:
                    toks.append(Tok("TEXT", content.strip(), f"\\{name}{{{content}}}"))
                continue
            if name == "operatorname":
                content, i = _braced(s, i)
                toks.append(Tok("FUNC", content.strip(), f"\\operatorname{{{content}}}"))
                continue
            if name in ("frac", "dfrac", "tfrac"):
                toks.append(Tok("FRAC", text="\\" + name))
                continue
            if name in FUNCS:
                toks.append(Tok("FUNC", name, "\\" + name))
                continue
            if name in ("cdot", "times", "ast"):
                toks.append(Tok("MUL", text="\\" + name))
                continue
            if name == "odot":
                toks.append(Tok("ODOT", text="\\odot"))
                continue
            if name == "div":
                toks.append(Tok("DIV", text="\\div"))
                continue
            if name in RELS:
                toks.append(Tok("REL", RELS[name], "\\" + name))
                continue
            if name in ("leftarrow", "gets"):
                toks.append(Tok("ARROW", text="\\leftarrow"))
                continue
            if name in SPACES or name == "boxed":  # \boxed{v} marks an entry; its value is v
                continue
            if name in SYMBOLS:
                toks.append(Tok("SYM", name, "\\" + name))
                continue
            toks.append(Tok("UNK", name, "\\" + name))
            continue
        if c == "−":
            toks.append(Tok("SUB", text="-"))
        elif c == "e" and EULER_RE.match(s, i) and not (i > 0 and s[i - 1].isalpha()):
            toks.append(Tok("EULER", text="e"))
        elif c.isalpha():
            toks.append(Tok("SYM", c, c))
        elif c == "+":
            toks.append(Tok("ADD", text="+"))
        elif c == "-":
            toks.append(Tok("SUB", text="-"))
        elif c == "*":
            toks.append(Tok("MUL", text="*"))
        elif c == "/":
            toks.append(Tok("DIV", text="/"))
        elif c == "^":
            toks.append(Tok("POW", text="^"))
        elif c == "_":
            toks.append(Tok("SUBSCRIPT", text="_"))
        elif c == "'":
            toks.append(Tok("PRIME", text="'"))
        elif c in "([":
            toks.append(Tok("OPEN", c, c))
        elif c in ")]":
            toks.append(Tok("CLOSE", c, c))
        elif c == "{":
            toks.append(Tok("LBRACE", text="{"))
        elif c == "}":
            toks.append(Tok("RBRACE", text="}"))
        elif c == ",":
            toks.append(Tok("COMMA", text=","))
        elif c == "=":
            toks.append(Tok("EQ", text="="))
        elif c in "<>":
            if s[i + 1:i + 2] == "=":
                toks.append(Tok("REL", c + "=", c + "="))
                i += 1
            else:
                toks.append(Tok("REL", c, c))
        elif c == "&":
            toks.append(Tok("AMP", text="&"))
        elif c == "|":
            toks.append(Tok("UNK", text="|"))
        else:
            toks.append(Tok("UNK", c, c))
        i += 1
    return toks


def is_symbolic(toks: list[Tok]) -> bool:
    """Has a variable: a letter, or a command such as \\delta or \\partial."""
    return any(t.kind == "SYM" for t in toks)


# ---------------------------------------------------------------------------------------
# syntax tree


@dataclass
class Node:
    pass


@dataclass
class Num(Node):
    lit: Literal


@dataclass
class Group(Node):
    inner: Node


@dataclass
class Add(Node):
    terms: list[tuple[int, Node]]  # (sign, term)


@dataclass
class Mul(Node):
    factors: list[Node]
    ops: list[str]  # between factors: "*" (\cdot, \times, juxtaposition), "odot", "/"


@dataclass
class Pow(Node):
    base: Node
    exponent: Node


@dataclass
class Exp(Node):
    arg: Node


@dataclass
class Div(Node):
    num: Node
    den: Node


@dataclass
class Func(Node):
    name: str
    args: list[Node]


@dataclass
class Abs(Node):
    inner: Node


@dataclass
class Cases(Node):
    branches: list[tuple[Node, Any]]  # (value, (lhs, rel, rhs) or None for otherwise)


@dataclass
class MatrixNode(Node):
    rows: list[list[Node]]


PRIMARY_START = {"NUM", "EULER", "OPEN", "LBRACE", "BAR_OPEN", "FRAC", "FUNC", "BEGIN"}


class Parser:
    def __init__(self, toks: list[Tok]):
        self.toks = toks
        self.i = 0

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self, kind: str | None = None) -> Tok:
        t = self.peek()
        if t is None:
            raise ParseError(f"expected {kind or 'more'} at the end")
        if kind is not None and t.kind != kind:
            raise ParseError(f"expected {kind}, found {t.text!r}")
        self.i += 1
        return t

    def at(self, *kinds: str) -> bool:
        t = self.peek()
        return t is not None and t.kind in kinds

    def parse_all(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            rest = " ".join(t.text for t in self.toks[self.i:self.i + 6])
            raise ParseError(f"unexpected {rest!r}")
        return node

    def expr(self) -> Node:
        terms: list[tuple[int, Node]] = []
        sign = 1
        if self.at("ADD", "SUB"):
            sign = -1 if self.take().kind == "SUB" else 1
        terms.append((sign, self.term()))
        while self.at("ADD", "SUB"):
            sign = -1 if self.take().kind == "SUB" else 1
            terms.append((sign, self.term()))
        if len(terms) == 1 and terms[0][0] == 1:
            return terms[0][1]
        return Add(terms)

    def term(self) -> Node:
        factors = [self.power()]
        ops: list[str] = []
        while True:
            if self.at("MUL", "ODOT", "DIV"):
                kind = self.take().kind
                ops.append({"MUL": "*", "ODOT": "odot", "DIV": "/"}[kind])
                if self.at("SUB", "ADD"):  # a \cdot -b
                    sign = self.take().kind
                    f = self.power()
                    factors.append(Add([(-1 if sign == "SUB" else 1, f)]))
                else:
                    factors.append(self.power())
            elif self.at(*PRIMARY_START):
                ops.append("*")
                factors.append(self.power())
            else:
                break
        return factors[0] if not ops else Mul(factors, ops)

    def power(self) -> Node:
        base = self.primary()
        while self.at("POW"):
            self.take()
            base = Pow(base, self.script())
        return base

    def script(self) -> Node:
        if self.at("LBRACE"):
            self.take()
            e = self.expr()
            self.take("RBRACE")
            return e
        t = self.take("NUM")  # ^2
        return Num(t.value)

    def braced(self) -> Node:
        self.take("LBRACE")
        e = self.expr()
        self.take("RBRACE")
        return e

    def primary(self) -> Node:
        t = self.peek()
        if t is None:
            raise ParseError("expected a number at the end")
        if t.kind == "NUM":
            self.take()
            return Num(t.value)
        if t.kind == "EULER":
            self.take()
            self.take("POW")
            return Exp(self.script())
        if t.kind == "OPEN":
            self.take()
            if t.value == "[" and self.at("BEGIN"):
                inner = self.environment()
            else:
                inner = self.expr()
            close = self.take("CLOSE")
            if {"(": ")", "[": "]", "{": "}"}[t.value] != close.value:
                raise ParseError(f"{t.text} closed by {close.text}")
            return Group(inner)
        if t.kind == "LBRACE":
            return Group(self.braced())
        if t.kind == "BAR_OPEN":
            self.take()
            inner = self.expr()
            self.take("BAR_CLOSE")
            return Abs(inner)
        if t.kind == "FRAC":
            self.take()
            num = self.braced()
            return Div(num, self.braced())
        if t.kind == "FUNC":
            self.take()
            if self.at("LBRACE"):  # \tanh{\left(x \right)}
                self.take()
                args = self.arguments() if self.at("OPEN") else [self.expr()]
                self.take("RBRACE")
            elif self.at("OPEN"):
                args = self.arguments()
            else:
                args = [self.power()]
            return Func(t.value, args)
        if t.kind == "BEGIN":
            return self.environment()
        raise ParseError(f"unexpected {t.text!r}")

    def arguments(self) -> list[Node]:
        open_ = self.take("OPEN")
        args = [self.expr()]
        while self.at("COMMA"):
            self.take()
            args.append(self.expr())
        close = self.take("CLOSE")
        if {"(": ")", "[": "]", "{": "}"}[open_.value] != close.value:
            raise ParseError(f"{open_.text} closed by {close.text}")
        if self.at("POW"):  # f\left(x\right)^{2} is not written by derive; refuse it
            raise ParseError("a power after a function's arguments")
        return args

    def environment(self) -> Node:
        begin = self.take("BEGIN")
        env = begin.value
        if env == "cases":
            branches = []
            while True:
                value = self.expr()
                self.take("AMP")
                text = self.take("TEXT").value
                if text == "otherwise":
                    cond = None
                elif text in ("for", "if"):
                    lhs = self.expr()
                    rel = self.take("REL").value
                    cond = (lhs, rel, self.expr())
                else:
                    raise ParseError(f"cases condition {text!r}")
                branches.append((value, cond))
                if self.at("NL"):
                    self.take()
                    continue
                self.take("END")
                return Cases(branches)
        if env in ("matrix", "bmatrix", "pmatrix"):
            rows: list[list[Node]] = [[]]
            while True:
                rows[-1].append(self.expr())
                if self.at("AMP"):
                    self.take()
                elif self.at("NL"):
                    self.take()
                    rows.append([])
                else:
                    self.take("END")
                    if any(len(r) != len(rows[0]) for r in rows):
                        raise ParseError("ragged matrix")
                    return MatrixNode(rows)
        raise ParseError(f"environment {env}")


def parse(latex: str) -> Node:
    return Parser(tokenize(latex)).parse_all()


def compare(rel: str, a: Any, b: Any) -> bool:
    x, y = to_fraction(_scalar(a, "comparison")), to_fraction(_scalar(b, "comparison"))
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "!=": x != y}[rel]


def evaluate(node: Node) -> Any:
    with mpmath.workdps(DPS):
        return _ev(node)


def _ev(node: Node) -> Any:
    if isinstance(node, Num):
        return node.lit.value
    if isinstance(node, Group):
        return _ev(node.inner)
    if isinstance(node, Add):
        total: Any = None
        for sign, term in node.terms:
            v = _ev(term)
            if total is None:
                total = v if sign > 0 else arith("-", Fraction(0), v) if not isinstance(v, Matrix) \
                    else v.map(lambda c: arith("-", Fraction(0), c))
            else:
                total = arith("+" if sign > 0 else "-", total, v)
        return total
    if isinstance(node, Mul):
        acc = _ev(node.factors[0])
        for op, f in zip(node.ops, node.factors[1:]):
            acc = arith(op, acc, _ev(f))
        return acc
    if isinstance(node, Pow):
        return power(_ev(node.base), _ev(node.exponent))
    if isinstance(node, Exp):
        return apply_function("exp", [_ev(node.arg)])
    if isinstance(node, Div):
        return arith("/", _ev(node.num), _ev(node.den))
    if isinstance(node, Func):
        if node.name not in FUNCS:
            raise EvalError(f"function {node.name!r} applied to a number")
        return apply_function(node.name, [_ev(a) for a in node.args])
    if isinstance(node, Abs):
        v = _scalar(_ev(node.inner), "absolute value")
        return abs(v)
    if isinstance(node, Cases):
        for value, cond in node.branches:
            if cond is None or compare(cond[1], _ev(cond[0]), _ev(cond[2])):
                return _ev(value)
        raise EvalError("no case applies")
    if isinstance(node, MatrixNode):
        return Matrix([[_ev(c) for c in row] for row in node.rows])
    raise EvalError(f"cannot evaluate {node}")


def as_literal(node: Node) -> Literal | None:
    """A shown number: 0.5, -0.5, \\left(-0.5\\right), {0.5}."""
    while isinstance(node, Group):
        node = node.inner
    if isinstance(node, Num):
        return node.lit
    if isinstance(node, Add) and len(node.terms) == 1:
        sign, inner = node.terms[0]
        while isinstance(inner, Group):
            inner = inner.inner
        if isinstance(inner, Num):
            lit = inner.lit
            return Literal(sign * lit.value, lit.ulp, lit.sig, lit.integer,
                           ("-" if sign < 0 else "") + lit.text)
    return None


def as_shown(node: Node) -> Any:
    """A Literal, a list of rows of Literals (a shown matrix), or None."""
    lit = as_literal(node)
    if lit is not None:
        return lit
    while isinstance(node, Group):
        node = node.inner
    if isinstance(node, MatrixNode):
        rows = [[as_literal(c) for c in row] for row in node.rows]
        if all(c is not None for row in rows for c in row):
            return rows
    return None


def matches(value: Any, shown: Any, policy: str) -> bool:
    if isinstance(shown, list):
        if not isinstance(value, Matrix) or value.shape != (len(shown), len(shown[0])):
            return False
        return all(matches(v, s, policy)
                   for rv, rs in zip(value.rows, shown) for v, s in zip(rv, rs))
    if isinstance(value, Matrix):
        return False
    v = to_fraction(value)
    if policy == "by-hand":
        return round_half_away(v, shown.ulp) == shown.value
    return abs(v - shown.value) <= shown.ulp


def shown_text(shown: Any) -> str:
    if isinstance(shown, list):
        return "[" + "; ".join(", ".join(c.text for c in row) for row in shown) + "]"
    return shown.text


def low_sig_factors(node: Node, exact_values: set[Fraction]) -> list[Literal]:
    """Literal factors of products with fewer than 3 significant figures."""
    found: list[Literal] = []

    def bad(lit: Literal) -> bool:
        return (lit.value != 0 and lit.sig < 3 and not (lit.integer and abs(lit.value) <= 100)
                and lit.value not in exact_values and -lit.value not in exact_values)

    def factor(f: Node) -> None:
        lit = as_literal(f)
        if lit is not None:
            if bad(lit):
                found.append(lit)
            return
        inner = f
        while isinstance(inner, Group):
            inner = inner.inner
        if isinstance(inner, MatrixNode):
            for row in inner.rows:
                for c in row:
                    cl = as_literal(c)
                    if cl is not None and bad(cl):
                        found.append(cl)
        walk(f)

    def walk(n: Node) -> None:
        if isinstance(n, Mul):
            for i, f in enumerate(n.factors):
                # a divisor is not a factor of the product; a dividend is
                if i > 0 and n.ops[i - 1] == "/":
                    walk(f)
                else:
                    factor(f)
            return
        for child in children(n):
            walk(child)

    walk(node)
    return found


def children(n: Node) -> list[Node]:
    if isinstance(n, Group):
        return [n.inner]
    if isinstance(n, Add):
        return [t for _, t in n.terms]
    if isinstance(n, Mul):
        return list(n.factors)
    if isinstance(n, Pow):
        return [n.base, n.exponent]
    if isinstance(n, Exp):
        return [n.arg]
    if isinstance(n, Div):
        return [n.num, n.den]
    if isinstance(n, Func):
        return list(n.args)
    if isinstance(n, Abs):
        return [n.inner]
    if isinstance(n, Cases):
        out = []
        for v, c in n.branches:
            out.append(v)
            if c is not None:
                out += [c[0], c[2]]
        return out
    if isinstance(n, MatrixNode):
        return [c for row in n.rows for c in row]
    return []


# ---------------------------------------------------------------------------------------
# Markdown -> statements


_SPLITTERS: dict[str, re.Pattern[str]] = {}


def split_top(s: str, pattern: str) -> list[str]:
    """Split `s` at matches of `pattern` outside braces, brackets and environments."""
    rx = _SPLITTERS.get(pattern)
    if rx is None:
        rx = _SPLITTERS[pattern] = re.compile(pattern)
    parts, depth, env, start, last = [], 0, 0, 0, 0
    for m in rx.finditer(s):
        seg = s[last:m.start()]
        depth += (seg.count("{") + seg.count("(") + seg.count("[")
                  - seg.count("}") - seg.count(")") - seg.count("]"))
        env += seg.count("\\begin{") - seg.count("\\end{")
        last = m.start()
        if depth == 0 and env == 0:
            parts.append(s[start:m.start()])
            start = m.end()
    parts.append(s[start:])
    return parts


@dataclass
class Check:
    kind: str
    latex: str  # "expression = shown"
    recomputed: str
    shown: str
    ok: bool
    where: str = ""
    policy: str = ""

    def line(self) -> str:
        text = self.latex
        if len(text) > 160:
            text = text[:100] + " ... " + text[-55:]
        at = f" @{self.where}" if self.where else ""
        return f"[{self.kind}{at}] {text}  (recomputed {self.recomputed}, shown {self.shown})"


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    unparsed: list[tuple[str, str, str]] = field(default_factory=list)  # (latex, reason, where)
    low_sig: list[tuple[str, str, str]] = field(default_factory=list)  # (factor, latex, where)
    skipped: Counter = field(default_factory=Counter)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def kinds(self) -> Counter:
        return Counter(c.kind for c in self.checks)

    def failing_kinds(self) -> Counter:
        return Counter(c.kind for c in self.failures)

    def extend(self, other: "Report") -> None:
        self.checks += other.checks
        self.unparsed += other.unparsed
        self.low_sig += other.low_sig
        self.skipped.update(other.skipped)

    def message(self, limit: int = 20) -> str:
        """The failing lines, compactly, at most `limit`."""
        out = []
        bad = self.failures
        if self.unparsed:
            out.append(f"{len(self.unparsed)} numeric line(s) the checker cannot parse:")
            out += [f"  {reason}: {latex[:160]}  ({where})"
                    for latex, reason, where in self.unparsed[:limit]]
        if bad:
            kinds = ", ".join(f"{k} {v}" for k, v in self.failing_kinds().most_common())
            out.append(f"{len(bad)} of {len(self.checks)} numeric lines do not recompute "
                       f"from their shown operands ({kinds}):")
            out += ["  " + c.line() for c in bad[:limit]]
            if len(bad) > limit:
                out.append(f"  ... and {len(bad) - limit} more")
        return "\n".join(out)


MARK_RE = re.compile(r"^(#+ .*|\*\*\d+(?:\.\d+)*\*\*.*)$", re.M)


def display_blocks(markdown: str) -> Iterable[tuple[str, str]]:
    """(math, where) for each $$ ... $$ block; where is the task number or heading above it."""
    where = ""
    pos = 0
    for m in re.finditer(r"\$\$(.*?)\$\$", markdown, re.S):
        for h in MARK_RE.finditer(markdown, pos, m.start()):
            text = h.group(0).lstrip("#* ").replace("**", "")
            number = re.match(r"\d+(?:\.\d+)*", text)
            where = number.group(0) if number else text[:40]
        pos = m.end()
        yield m.group(1), where


TAG_RE = re.compile(r"\s*&&\s*\\text\{\([^{}]*\)\}\s*$")
CONT_RE = re.compile(r"^&\s*\\q?quad\b\s*")


def statements(math: str) -> list[str]:
    """The statements of one display block, continuation rows joined in."""
    m = re.search(r"\\begin\{aligned\}(.*)\\end\{aligned\}", math, re.S)
    if not m:
        rows = [math.strip()]
    else:
        # a continuation row may start inside brackets (a long sum broken within \Bigl( \Bigr)):
        # join every continuation first, then split the rows
        body = re.sub(r"\\\\\s*&\s*\\q?quad\b", " ", m.group(1))
        rows = [r.strip() for r in split_top(body, r"\\\\")]
    out: list[str] = []
    for row in rows:
        if not row:
            continue
        row = TAG_RE.sub("", row)
        if CONT_RE.match(row):
            if not out:
                raise ParseError(f"a continuation row opens the block: {row[:60]}")
            out[-1] += " " + CONT_RE.sub("", row)
        elif row.startswith("&"):
            if not out:
                out.append(row[1:].strip())
            else:
                out[-1] += " " + row[1:].strip()
        else:
            parts = split_top(row, r"&") if "&" in row else [row]
            out.append(" ".join(p.strip() for p in parts))
    return out


RELATION = r"=|\\leftarrow(?![A-Za-z])|\\gets(?![A-Za-z])"


def classify(lhs: str, arrow: bool) -> str:
    s = re.sub(r"\s+", "", lhs)
    if arrow:
        return "update"
    m = re.match(r"\\frac\{\\partial(.*?)\}\{\\partial(.*)\}$", s)
    if m:
        top, bottom = m.group(1), m.group(2)
        if top == "L":
            if re.match(r"(w|b|W|\\mathbf\{b\}|\\theta)", bottom):
                return "gradient"
            if bottom.startswith("z") or bottom.startswith("\\mathbf{z}"):
                return "dL/dz"
            return "dL/da"
        return "f'(z)"
    if s.startswith("\\delta") or s.startswith("\\boldsymbol{\\delta}"):
        return "delta"
    if s == "L":
        return "loss"
    if s.startswith("z") or s.startswith("\\mathbf{z}"):
        return "z"
    return "activation"


@dataclass
class Element:
    text: str
    status: str  # empty symbolic numeric unparsed
    node: Node | None = None
    reason: str = ""


_NAMED = re.compile(r"\\(?:text|operatorname|begin|end)\s*\{[^{}]*\}|\\mathrm\{[A-Za-z]{2,}\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_LETTER = re.compile(r"[A-Za-z]")


def looks_symbolic(text: str) -> bool:
    """A fast first look (the tokenizer has the last word): a variable in `text`?"""
    t = _NAMED.sub(" ", text)
    if any(c in SYMBOLS for c in _COMMAND.findall(t)):
        return True
    t = EULER_RE.sub(" ", _COMMAND.sub(" ", t))
    return bool(_LETTER.search(t))


def element(text: str) -> Element:
    text = text.strip()
    if not text:
        return Element(text, "empty")
    if looks_symbolic(text):
        return Element(text, "symbolic")
    try:
        toks = tokenize(text)
    except ParseError as e:
        return Element(text, "unparsed", reason=str(e))
    if is_symbolic(toks):
        return Element(text, "symbolic")
    unknown = [t.text for t in toks if t.kind == "UNK"]
    if unknown:
        return Element(text, "unparsed", reason=f"unknown {' '.join(unknown[:3])}")
    try:
        node = Parser(toks).parse_all()
    except ParseError as e:
        return Element(text, "unparsed", reason=str(e))
    unknown = sorted({n.name for n in nodes(node) if isinstance(n, Func) and n.name not in FUNCS})
    if unknown:
        return Element(text, "unparsed", reason=f"function {', '.join(unknown)} of a number")
    return Element(text, "numeric", node)


def nodes(node: Node) -> Iterable[Node]:
    yield node
    for child in children(node):
        yield from nodes(child)


def check_statement(text: str, policy: str, where: str = "",
                    exact_values: set[Fraction] | None = None) -> Report:
    """Check one statement (one logical line of an aligned block, `&` removed)."""
    report = Report()
    for part in split_top(text, r",\s*\\q?quad\b") if "quad" in text else [text]:
        _check_chain(part.strip(), policy, where, exact_values or set(), report)
    return report


def _check_chain(text: str, policy: str, where: str, exact_values: set[Fraction],
                 report: Report) -> None:
    since = None
    pieces = split_top(text, r"\\q?quad\s*\\text\{\s*since\s*\}") if "since" in text else [text]
    if len(pieces) == 2:
        text, since = pieces
    elif len(pieces) > 2:
        report.unparsed.append((text, "two since-clauses", where))
        return
    parts = split_top(text, RELATION)
    arrow = len(split_top(text, r"\\leftarrow(?![A-Za-z])|\\gets(?![A-Za-z])")) > 1 \
        if "\\leftarrow" in text or "\\gets" in text else False
    elems = [element(p) for p in parts]
    lhs = elems[0].text if elems else ""
    kind = classify(lhs, arrow)
    if all(e.status in ("symbolic", "empty") for e in elems) and since is None:
        report.skipped["symbolic statement"] += 1
        return
    # runs of numeric elements
    run: list[Element] = []
    runs: list[list[Element]] = []
    for e in elems:
        if e.status == "numeric":
            run.append(e)
            continue
        if e.status == "unparsed":
            report.unparsed.append((e.text, e.reason, where))
        elif e.status == "symbolic":
            report.skipped["symbolic element"] += 1
        if run:
            runs.append(run)
        run = []
    if run:
        runs.append(run)
    for run in runs:
        _check_run(run, kind, policy, where, exact_values, report)
    if since is not None:
        _check_since(elems, since, where, report, policy)


def _check_run(run: list[Element], kind: str, policy: str, where: str,
               exact_values: set[Fraction], report: Report) -> None:
    for e in run[:-1] if len(run) > 1 else []:
        for lit in low_sig_factors(e.node, exact_values):  # type: ignore[arg-type]
            report.low_sig.append((lit.text, e.text, where))
    if len(run) == 1:
        if as_shown(run[0].node) is not None:  # type: ignore[arg-type]
            report.skipped["value without computation"] += 1
        else:
            report.unparsed.append((run[0].text, "a computation with no shown result", where))
        return
    last = run[-1]
    shown = as_shown(last.node)  # type: ignore[arg-type]
    if shown is None:
        report.unparsed.append((" = ".join(e.text for e in run),
                                "a numeric chain that does not end in a shown number", where))
        return
    matrix = isinstance(shown, list)
    for k, e in enumerate(run[:-1]):
        nxt = run[k + 1]
        path_step = _path_terms(e.node, nxt.node)  # type: ignore[arg-type]
        if path_step is not None:
            texts = _term_texts(e.text, len(path_step))
            for (term, lit_node), term_text in zip(path_step, texts):
                _add_check(report, "path value", term, as_literal(lit_node), policy, where,
                           term_text)
            if policy == "by-hand":
                report.skipped["path products against the final sum (by-hand)"] += 1
                continue
        this_kind = kind
        if as_shown(e.node) is not None:  # type: ignore[arg-type]
            this_kind = "restated value"
        elif _is_literal_sum(e.node) and k > 0:  # type: ignore[arg-type]
            this_kind = "path sum"
        if matrix and not this_kind.startswith("matrix"):
            this_kind = "matrix " + this_kind
        _add_check(report, this_kind, e.node, shown, policy, where, e.text, last.text)


def _term_texts(text: str, n: int) -> list[str]:
    """The LaTeX of the n top-level terms of a sum (for messages)."""
    pieces = split_top(text, r"\s[-+]\s")
    if len(pieces) == n:
        return [p.strip() for p in pieces]
    return [f"term {k + 1} of {text}" for k in range(n)]


def _add_check(report: Report, kind: str, node: Any, shown: Any, policy: str, where: str,
               text: str, shown_latex: str | None = None) -> None:
    try:
        with mpmath.workdps(DPS):
            v = _ev(node)
        recomputed = show(v)
        ok = matches(v, shown, policy)
    except (EvalError, ZeroDivisionError, ValueError) as err:
        recomputed, ok = f"undefined ({err})", False
    st = shown_text(shown)
    report.checks.append(Check(kind, f"{text} = {shown_latex or st}", recomputed, st, ok, where,
                               policy))


def _terms(node: Node) -> list[Node] | None:
    while isinstance(node, Group):
        node = node.inner
    if isinstance(node, Add) and len(node.terms) >= 2:
        return [t if s > 0 else Add([(-1, t)]) for s, t in node.terms]
    return None


def _is_literal_sum(node: Node) -> bool:
    terms = _terms(node)
    return terms is not None and all(as_literal(t) is not None for t in terms)


def _path_terms(node: Node, nxt: Node) -> list[tuple[Node, Node]] | None:
    """(term, shown term value) pairs when `nxt` shows the terms of `node` rounded."""
    a, b = _terms(node), _terms(nxt)
    if a is None or b is None or len(a) != len(b):
        return None
    if not all(as_literal(t) is not None for t in b):
        return None
    if all(as_literal(t) is not None for t in a):
        return None
    return list(zip(a, b))


REL_RE = r"\\leq?(?![A-Za-z])|\\geq?(?![A-Za-z])|\\lt(?![A-Za-z])|\\gt(?![A-Za-z])|<=|>=|<|>"


def _check_since(elems: list[Element], since: str, where: str, report: Report,
                 policy: str) -> None:
    """`... = 1 \\quad \\text{since } z = 5.02 > 0`: the relation and the branch."""
    parts = split_top(since, r"=")
    if len(parts) != 2:
        report.unparsed.append((since, "since-clause is not 'z = value REL bound'", where))
        return
    symbol, rest = parts[0].strip(), parts[1]
    sides = split_top(rest, REL_RE)
    rels = re.findall(REL_RE, rest)
    if len(sides) != 2 or len(rels) != 1:
        report.unparsed.append((since, "since-clause without one relation", where))
        return
    z_text = sides[0].strip()
    rel = tokenize(rels[0])[0].value
    try:
        z, b = evaluate(parse(z_text)), evaluate(parse(sides[1]))
    except (ParseError, EvalError) as err:
        report.unparsed.append((since, f"since-clause: {err}", where))
        return
    holds = compare(rel, z, b)
    report.checks.append(Check("relu condition", since.strip(), "true" if holds else "false",
                               "true", holds, where, policy))
    # the stated value, and the chain's cases evaluated at z
    stated = next((e for e in reversed(elems) if e.status == "numeric"), None)
    lit = as_literal(stated.node) if stated is not None else None  # type: ignore[arg-type]
    cases = [e for e in elems if "\\begin{cases}" in e.text]
    if lit is None or len(cases) != 1:
        report.unparsed.append((since, "since-clause without a cases and a stated value", where))
        return
    substituted = cases[0].text.replace(symbol, f"\\left({z_text}\\right)")
    el = element(substituted)
    if el.status != "numeric":
        report.unparsed.append((substituted, f"cases at z: {el.status} {el.reason}", where))
        return
    try:
        v = evaluate(el.node)  # type: ignore[arg-type]
        ok, recomputed = to_fraction(v) == lit.value, show(v)
    except EvalError as err:
        ok, recomputed = False, f"undefined ({err})"
    report.checks.append(Check("relu branch", f"{cases[0].text} at {symbol} = {z_text}",
                               recomputed, lit.text, ok, where, policy))


def check_markdown(markdown: str, policy: str = "exact",
                   exact_values: set[Fraction] | None = None) -> Report:
    """Every numeric line of a Markdown key, checked under `policy` (exact or by-hand)."""
    if policy not in ("exact", "by-hand"):
        raise ValueError(f"policy {policy!r}")
    report = Report()
    for math, heading in display_blocks(markdown):
        try:
            stmts = statements(math)
        except ParseError as err:
            report.unparsed.append((math[:120], str(err), heading))
            continue
        for stmt in stmts:
            report.extend(check_statement(stmt, policy, heading, exact_values))
    return report


def check_line(latex: str, policy: str = "exact") -> Report:
    """Check one line written by hand, e.g. '0.7349 \\cdot \\left(1 - 0.7349\\right) = 0.1948'."""
    return check_statement(latex, policy)


def spec_numbers(yaml_text: str) -> set[Fraction]:
    """Every number written in a spec's YAML (comments left out): the given, exact values."""
    out: set[Fraction] = set()
    for line in yaml_text.splitlines():
        line = line.split("#", 1)[0]
        for m in re.finditer(r"(?<![\w.])-?(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])", line):
            out.add(Fraction(m.group(1)))
    return out


if __name__ == "__main__":  # python tests/linecheck.py KEY.md [--by-hand]
    policy = "by-hand" if "--by-hand" in sys.argv else "exact"
    for path in [a for a in sys.argv[1:] if not a.startswith("--")]:
        with open(path, encoding="utf-8") as fh:
            rep = check_markdown(fh.read(), policy)
        print(f"{path}: {len(rep.checks)} numeric lines, {len(rep.failures)} failing, "
              f"{len(rep.unparsed)} unparsed, {len(rep.low_sig)} low-precision factors")
        print(rep.message())
