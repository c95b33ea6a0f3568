"""Custom activations from a formula (derive.formula and its hooks in spec, derivation, render).

The formula is spec text, so it is data: a parser of derive's own reads it, and
anything outside its grammar (including text that looks like Python) is a spec error
naming the YAML line and the column in the formula. The numbers of the custom problem
are checked against a float implementation written out in this file (softsign and swish
by hand, central differences), independent of derive and of the oracle.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import sympy
import yaml
from canonical import CANONICAL
from click.testing import CliRunner

from cli import main
from derive.api import solve
from derive.derivation import Z, activation_rule
from derive.errors import SpecError
from derive.formula import (
    ALLOWED,
    MAX_DEPTH,
    MAX_LENGTH,
    Bin,
    FormulaError,
    Neg,
    Num,
    Var,
    expressions,
    parse,
    problem,
)
from derive.numeric import compile_numeric
from derive.latex import activation_tex, activation_text
from derive.spec import Activation, parse_spec, spec_yaml

ROOT = Path(__file__).resolve().parent.parent
CUSTOM = ROOT / "problems" / "custom_activation.yaml"
z = Z


def f(text: str) -> sympy.Expr:
    return expressions(text, Z)[0]


def df(text: str) -> sympy.Expr:
    return expressions(text, Z)[1]


# --- the grammar ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("x", z),
    ("1 + 2*x", 1 + 2 * z),
    ("1 + x*2 - 3", z * 2 - 2),
    ("2*x^2", 2 * z**2),
    ("x^2*3", 3 * z**2),
    ("-x^2", -z**2),  # unary minus binds looser than ^
    ("(-x)^2", z**2),
    ("-x*2", -2 * z),
    ("x - -x", 2 * z),
    ("--x", z),
    ("x^3^2", z**9),  # ^ is right-associative: x^(3^2)
    ("(x^3)^2", z**6),
    ("x**3**2", z**9),  # ** is ^
    ("2^-1*x", z / 2),  # a signed exponent
    ("x^-2", z**-2),
    ("x/2/4", z / 8),  # / is left-associative
    ("x-1-1", z - 2),
    ("x/(1+abs(x))", z / (1 + sympy.Abs(z))),
    ("x*sigmoid(x)", z / (1 + sympy.exp(-z))),
    ("x/(1+exp(-x))", z / (1 + sympy.exp(-z))),
    ("exp(x) + log(x) + sqrt(x) + tanh(x) + sin(x) + cos(x)",
     sympy.exp(z) + sympy.log(z) + sympy.sqrt(z) + sympy.tanh(z) + sympy.sin(z) + sympy.cos(z)),
    ("sigmoid(2*x)", 1 / (1 + sympy.exp(-2 * z))),
    ("x^0.5", sympy.sqrt(z)),
    (".5*x + 5.*x + 1e-3*x + 2.5E+1*x", sympy.Rational(1, 2) * z + 5 * z + sympy.Rational(1, 1000) * z + 25 * z),
    ("1.702*x", sympy.Rational(1702, 1000) * z),  # exact, not a rounded float
    ("  x\t+ 1 ", z + 1),
])
def test_formulas_read_as_written(text: str, expected: sympy.Expr) -> None:
    assert f(text) == expected


def test_parse_tree_shapes() -> None:
    tree = parse("-x^3^2")
    assert isinstance(tree, Neg) and tree.column == 1
    power = tree.operand
    assert isinstance(power, Bin) and power.op == "^" and isinstance(power.left, Var)
    assert isinstance(power.right, Bin) and power.right.op == "^" and power.right.column == 5
    assert isinstance(power.right.left, Num) and power.right.left.text == "3"
    product = parse("1+2*x")
    assert product.op == "+" and product.right.op == "*" and product.right.column == 4  # type: ignore[union-attr]


@pytest.mark.parametrize("text, derivative", [
    ("x/(1+abs(x))", 1 / (sympy.Abs(z) + 1) ** 2),  # SymPy's form, tidied: u sign(u) = |u|
    ("x^2", 2 * z),
    ("tanh(x)", 1 - sympy.tanh(z) ** 2),
    ("abs(x)", sympy.sign(z)),
])
def test_derivative_comes_from_sympy(text: str, derivative: sympy.Expr) -> None:
    assert sympy.simplify(df(text) - derivative) == 0


SMOOTH = ["x/(1+abs(x))", "x*sigmoid(x)", "x/(1+exp(-x))", "x*tanh(log(1+exp(x)))",
          "0.5*x*(1+tanh(0.7978845608*(x+0.044715*x^3)))", "exp(-x^2)", "sin(x)*cos(2*x)+x^3/7",
          "sqrt(1+x^2)", "x/sqrt(1+x^2)", "log(1+x^2)", "abs(sin(x))*x", "(x+1)^10*(x-1)^-2",
          "sigmoid(sigmoid(x))", "2^-1*x^3^0.5*abs(x)^0.5"]


@pytest.mark.parametrize("text", SMOOTH)
def test_derivative_equals_finite_differences(text: str) -> None:
    definition, derivative = expressions(text, Z)
    value, slope = compile_numeric((Z,), definition), compile_numeric((Z,), derivative)
    h = 1e-6
    for point in (-2.3, -0.7, 0.4, 1.9, 3.3):
        if "^-2" in text and abs(point - 1) < 0.5:
            continue
        if "x^3^0.5" in text and point < 0:
            continue
        expected = (float(value(point + h)) - float(value(point - h))) / (2 * h)
        assert float(slope(point)) == pytest.approx(expected, rel=1e-6, abs=1e-6), (text, point)


# --- errors, with their column ----------------------------------------------------------------

ERRORS = [
    # (formula, column or None, words the message must contain)
    ("x @ 2", 3, "unexpected '@'"),
    ("x.__class__", 2, "unexpected '.'"),
    ("__import__('os').system('x')", 1, "unknown name '__import__'"),
    ("exec('x')", 1, "unknown name 'exec'"),
    ("eval(x)", 1, "unknown name 'eval'"),
    ("lambda: x", 1, "unknown name 'lambda'"),
    ("x if x else x", 3, "unknown name 'if'"),
    ("os.system", 1, "unknown name 'os'"),
    ("[x]", 1, "unexpected '['"),
    ("{x}", 1, "unexpected '{'"),
    ("'x'", 1, "unexpected \"'\""),
    ('"x"', 1, "unexpected '\"'"),
    ("x; 1", 2, "unexpected ';'"),
    ("x == x", 3, "unexpected '='"),
    ("x, x", 2, "unexpected ','"),
    ("x % 2", 3, "unexpected '%'"),
    ("x & x", 3, "unexpected '&'"),
    ("x # comment", 3, "unexpected '#'"),
    ("$x", 1, "unexpected '$'"),
    ("x\\y", 2, "unexpected '\\\\'"),
    ("x²", 2, "unexpected '²'"),
    ("x·2", 2, "unexpected '·'"),
    ("１*x", 1, "unexpected '１'"),
    ("x\n+1", 2, "unexpected '\\n'"),
    ("x // 2", 4, "unexpected '/'"),
    ("x *** 2", 5, "unexpected '*'"),
    ("X", 1, "unknown name 'X'"),
    ("e^x", 1, "unknown name 'e'"),
    ("pi*x", 1, "unknown name 'pi'"),
    ("max(x, 0)", 1, "unknown name 'max'"),
    ("exp(x, 2)", 6, "unexpected ','"),
    ("exp x", 5, "expected '(' after 'exp'"),
    ("exp", 4, "expected '(' after 'exp'"),
    ("exp()", 5, "unexpected ')'"),
    ("2x", 2, "unexpected 'x'"),
    ("x(1)", 2, "unexpected '('"),
    ("x exp(x)", 3, "unexpected 'exp'"),
    ("(x+1", 5, "missing ')'"),
    ("x)", 2, "unexpected ')' with no '(' to close"),
    ("x+", 3, "the formula ends too early"),
    ("*x", 1, "unexpected '*'"),
    ("+x", 1, "unexpected '+'"),
    ("x ^", 4, "the formula ends too early"),
    ("()", 2, "unexpected ')'"),
    ("1.2.3*x", 4, "unexpected '.3'"),
    ("x/0", 2, "division by zero"),
    ("x/(2-2)", 2, "division by zero"),
    ("0^-1*x", 2, "division by zero"),
    ("log(0)*x", 1, "the value of log(...) is not a finite real number"),
    ("sqrt(-2) + x", 1, "the value of sqrt(...) is not a finite real number"),
    ("(-8)^(1/3)*x", 5, "the value of '^' is not a finite real number"),
    ("x^999999999", 2, "the exponent after '^' is 1e+09; the limit is 10"),
    ("9^9^9*x", 2, "the exponent after '^'"),
    ("x^11", 2, "the exponent after '^' is 11"),
    ("x^x", 2, "the exponent after '^' uses x"),
    ("2^x", 2, "the exponent after '^' uses x"),
    ("(10^10)^10*x", 8, "too large"),
    ("1e16*x", 1, "the number 1e16 is out of range"),
    ("1e999999999*x", 1, "out of range"),
    ("1e-999999999*x", 1, "out of range"),
    ("exp(exp(x))", 1, "the argument of exp can grow too large"),
    ("exp(1/x)", 1, "the argument of exp can grow too large"),
    ("sigmoid(x^3)", 1, "the argument of sigmoid can grow too large"),
    ("sin(exp(x))", 1, "the argument of sin can grow too large"),
    ("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), MAX_DEPTH + 1, "nests more than 30 levels"),
    ("-" * (MAX_DEPTH + 1) + "x", MAX_DEPTH + 1, "nests more than 30 levels"),
    ("x" + "^1" * (MAX_DEPTH + 1), 2 * MAX_DEPTH + 2, "nests more than 30 levels"),
    ("exp(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), 4 * MAX_DEPTH + 4, "nests more than 30"),
    # not about one place: the whole formula
    ("2 + 3", None, 'the formula "2 + 3" does not use x'),
    ("x - x", None, 'the formula "x - x" does not depend on x'),
    ("0*x", None, "does not depend on x"),
    ("x/(x-x)", None, "has no finite real value"),
    ("-sqrt(-exp(x))/x", None, "has no finite real value"),
    ("abs(sqrt(x))", None, "SymPy's derivative of the formula \"abs(sqrt(x))\" uses atan2"),
    ("", None, "the formula is empty"),
    ("   ", None, "the formula is empty"),
    ("x" + "+x" * 100, None, f"characters long; the limit is {MAX_LENGTH}"),
]


@pytest.mark.parametrize("text, column, words", ERRORS, ids=[repr(e[0])[:40] for e in ERRORS])
def test_bad_formulas_are_clean_errors_with_their_column(text: str, column: int | None, words: str) -> None:
    start = time.perf_counter()
    with pytest.raises(FormulaError) as caught:
        expressions(text, Z)
    assert time.perf_counter() - start < 2.0, "rejecting a formula must be quick"
    assert caught.value.column == column
    message = problem(text)
    assert message is not None and words in message, message
    if column is not None:
        assert f"at column {column} of " in message


def test_the_error_names_what_is_allowed() -> None:
    assert problem("x @ 2") == (
        'unexpected \'@\' at column 3 of "x @ 2" (allowed: numbers, x, + - * / ^, parentheses, '
        "exp log sqrt abs tanh sigmoid sin cos)")
    assert ALLOWED in problem("y + 1")  # type: ignore[operator]


def test_limits_are_inclusive() -> None:
    assert problem("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH) is None
    assert problem("-" * MAX_DEPTH + "x") is None
    assert problem("x^10") is None and problem("x^-10") is None
    long = "x" + "+x" * ((MAX_LENGTH - 1) // 2)
    assert len(long) <= MAX_LENGTH and problem(long) is None
    assert problem("exp(-x^2/2)") is None  # x^2 inside exp is fine


def test_no_eval_of_spec_text(monkeypatch) -> None:
    """The formula never reaches eval, exec, compile, sympify or parse_expr."""
    import builtins

    from sympy.parsing import sympy_parser

    def refuse(*args, **kwargs):
        raise AssertionError("spec text was handed to an evaluator")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    monkeypatch.setattr(sympy, "sympify", refuse)
    monkeypatch.setattr(sympy_parser, "parse_expr", refuse)
    expressions.cache_clear()
    assert problem("x*sigmoid(1.5*x) + 0.25*abs(x)^3") is None
    assert problem("__import__('os').system('touch PWNED')") is not None


def test_the_parser_module_names_no_evaluator() -> None:
    """Belt and braces for the test above: derive/formula.py does not even name one."""
    import ast

    tree = ast.parse((ROOT / "derive" / "formula.py").read_text(encoding="utf-8"))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"eval", "exec", "compile", "__import__", "getattr", "sympify", "parse_expr",
                        "lambdify"}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    attributes |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   for alias in node.names}
    assert not attributes & {"eval", "exec", "sympify", "parse_expr", "lambdify", "S", "import_module"}

# --- in a spec ------------------------------------------------------------------------------

def spec_with(activation: str, extra: str = "") -> str:
    """CANONICAL with layer 1's activation replaced (line 4 of the text)."""
    text = CANONICAL.replace("  - activation: relu\n", f"  - activation: {activation}\n{extra}", 1)
    assert text != CANONICAL
    return text


def errors_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "spec.yaml")
    return [str(p) for p in caught.value.problems]


def test_spec_reads_a_formula_and_its_name() -> None:
    spec = parse_spec(spec_with('{formula: "x/(1+abs(x))", name: softsign}'))
    assert spec.layers[0].activation == Activation("softsign", None, "x/(1+abs(x))")
    spec = parse_spec(spec_with('{formula: "x*sigmoid(x)"}'))
    assert spec.layers[0].activation == Activation("custom", formula="x*sigmoid(x)")
    # the canonical form is unchanged
    assert parse_spec(CANONICAL).layers[0].activation == Activation("relu")


def test_spec_error_names_line_and_column() -> None:
    assert errors_of(spec_with('{formula: "x @ 2"}')) == [(
        'spec.yaml:4: layers[0].activation.formula: unexpected \'@\' at column 3 of "x @ 2" '
        "(allowed: numbers, x, + - * / ^, parentheses, exp log sqrt abs tanh sigmoid sin cos)")]
    # the line is the formula's own, in a block mapping
    block = spec_with("", '      name: odd\n      formula: "x.__class__"\n')
    assert errors_of(block) == [(
        'spec.yaml:6: layers[0].activation.formula: unexpected \'.\' at column 2 of "x.__class__" '
        "(allowed: numbers, x, + - * / ^, parentheses, exp log sqrt abs tanh sigmoid sin cos)")]


@pytest.mark.parametrize("activation, words", [
    ('{formula: "x", name: relu}', "layers[0].activation.name: 'relu' is a built-in activation"),
    ('{formula: "x", name: "two words"}', "a formula's name starts with a letter"),
    ('{formula: "x", name: 3}', "layers[0].activation.name: expected text"),
    ('{formula: 2}', "layers[0].activation.formula: expected text, found the number 2"),
    ('{formula: "x", slope: 0.1}', "layers[0].activation.slope: unknown key (expected one of: formula, name)"),
    ('{formula: "2+3", name: const}', 'the formula "2+3" does not use x'),
    ('{formula: "x^x"}', "the exponent after '^' uses x at column 2"),
])
def test_spec_errors(activation: str, words: str) -> None:
    found = errors_of(spec_with(activation))
    assert any(words in error and error.startswith("spec.yaml:4:") for error in found), found


def test_one_name_one_formula() -> None:
    text = spec_with('{formula: "x/(1+abs(x))", name: soft}').replace(
        "  - activation: sigmoid\n", '  - activation: {formula: "x*sigmoid(x)", name: soft}\n', 1)
    assert errors_of(text) == [(
        "spec.yaml:8: layers[1].activation.formula: the name 'soft' is already given to the formula "
        '"x/(1+abs(x))"; give this formula a name of its own')]
    same = spec_with('{formula: "x*sigmoid(x)", name: swish}').replace(
        "  - activation: sigmoid\n", '  - activation: {formula: "x*sigmoid(x)", name: swish}\n', 1)
    assert parse_spec(same).layers[1].activation.formula == "x*sigmoid(x)"


def test_a_drawn_variant_keeps_its_formula() -> None:
    spec = parse_spec(spec_with('{formula: "x/(1+abs(x))", name: softsign}'))
    again = parse_spec(spec_yaml(spec))
    assert again.layers[0].activation == spec.layers[0].activation


# --- rendering names --------------------------------------------------------------------------

def test_custom_names_in_tex_and_text() -> None:
    assert activation_tex("softsign") == r"\operatorname{softsign}"
    assert activation_tex("my_act") == r"\operatorname{my\_act}"
    assert activation_tex("sigmoid") == r"\sigma" and activation_tex("relu") == r"\operatorname{ReLU}"
    assert activation_text("softsign") == "softsign" and activation_text("leaky_relu") == "leaky ReLU"


@pytest.mark.parametrize("text", SMOOTH + ["1/x", "exp(x)", "log(x)", "sqrt(x)", "tanh(exp(x+1))",
                                          "x^-10", "exp(-x^2)", "sigmoid(x^2)*x^10"])
def test_a_formula_at_extreme_z_gives_a_number_or_a_clean_error(text: str) -> None:
    """Never another exception, never a hang (the formula check bounds what exp sees)."""
    import mpmath

    from derive.errors import NumericError

    rule = activation_rule(Activation("c", formula=text))
    start = time.perf_counter()
    with mpmath.workprec(160):
        for value in (0.0, 5e-324, -1e-300, 1e-20, -2.5, 1e5, -1e300, 1.7e308, mpmath.mpf("1e400")):
            for function, args in ((rule.f, (value,)), (rule.df, (value,)), (rule.convenient_fn, (0.5, value))):
                try:
                    result = function(*[mpmath.mpf(a) for a in args])
                except NumericError:
                    continue
                assert mpmath.isfinite(result) and abs(result) <= 1.8e308, (text, value)
    assert time.perf_counter() - start < 10.0, text


def test_rule_of_a_formula() -> None:
    rule = activation_rule(Activation("softsign", formula="x/(1+abs(x))"))
    assert rule.name == "softsign"
    assert rule.shown == rule.definition == Z / (1 + sympy.Abs(Z))
    assert rule.derivative == rule.convenient
    assert float(rule.f(-3)) == pytest.approx(-0.75)
    assert float(rule.df(-3)) == pytest.approx(1 / 16)
    assert float(rule.convenient_fn(-0.75, -3)) == pytest.approx(1 / 16)


# --- the custom problem, by an independent float implementation --------------------------------

def independent_loss(spec: dict, values: dict[str, float]) -> float:
    """The loss of problems/custom_activation.yaml in plain floats, written out by hand:
    softsign z/(1+|z|), swish z/(1+e^-z), sigmoid; half squared error."""
    functions = {
        "x/(1+abs(x))": lambda v: v / (1 + abs(v)),
        "x*sigmoid(x)": lambda v: v / (1 + math.exp(-v)),
        "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
    }
    a = {name: float(v) for name, v in spec["inputs"].items()}
    for layer in spec["layers"]:
        act = layer["activation"]
        function = functions[act["formula"] if isinstance(act, dict) else act]
        for name, neuron in layer["neurons"].items():
            total = values[f"b:{name}"] + sum(values[f"{src}->{name}"] * a[src] for src in neuron["weights"])
            a[name] = function(total)
    return sum((a[name] - float(y)) ** 2 for name, y in spec["targets"].items()) / 2


def test_custom_problem_matches_central_differences() -> None:
    spec = yaml.safe_load(CUSTOM.read_text(encoding="utf-8"))
    assert spec["loss"] == "half_squared_error"
    assert [layer["activation"] for layer in spec["layers"]] == [
        {"formula": "x/(1+abs(x))", "name": "softsign"}, {"formula": "x*sigmoid(x)", "name": "swish"},
        "sigmoid"]
    values = {}
    for layer in spec["layers"]:
        for name, neuron in layer["neurons"].items():
            values[f"b:{name}"] = float(neuron["bias"])
            values.update({f"{src}->{name}": float(w) for src, w in neuron["weights"].items()})
    product = solve(CUSTOM).steps[0].values
    assert product.loss == pytest.approx(independent_loss(spec, values), rel=1e-12)
    assert set(product.gradients) == set(values)
    h = 1e-6
    eta = float(spec["learning_rate"])
    for key, value in values.items():
        plus = independent_loss(spec, {**values, key: value + h})
        minus = independent_loss(spec, {**values, key: value - h})
        expected = (plus - minus) / (2 * h)
        assert product.gradients[key] == pytest.approx(expected, rel=1e-6, abs=1e-9), key
        assert product.updated[key] == pytest.approx(value - eta * expected, rel=1e-6, abs=1e-9), key


# --- the command line -------------------------------------------------------------------------

@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_cli_solves_the_custom_problem(runner: CliRunner) -> None:
    result = runner.invoke(main, ["solve", str(CUSTOM), "-f", "md"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2 softsign neurons" in out and "1 swish neuron" in out
    assert r"\operatorname{softsign}\left(z_{1}^{(1)}\right)" in out
    assert r"\operatorname{swish}'\left(z_{1}^{(2)}\right)" in out
    assert "| softsign |" in out
    tex = runner.invoke(main, ["solve", str(CUSTOM), "-f", "tex"])
    assert tex.exit_code == 0 and r"\operatorname{softsign}" in tex.stdout
    key = json.loads(runner.invoke(main, ["solve", str(CUSTOM), "-f", "json"]).stdout)
    assert all(math.isfinite(p["gradient"]) for p in key["steps"][0]["parameters"])


def test_cli_reports_a_bad_formula(runner: CliRunner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_text(spec_with('{formula: "x @ 2", name: odd}'), encoding="utf-8")
    result = runner.invoke(main, ["solve", "spec.yaml"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("derive: error: spec.yaml:4: layers[0].activation.formula: "
                                    "unexpected '@' at column 3")


@pytest.mark.parametrize("formula, inputs, words", [
    ("1/x", "{x1: 0, x2: 0, x3: 0}", "divides by zero at z = 0"),
    ("exp(x)", "{x1: 1000, x2: 0, x3: 0}", "beyond 1e308"),
    ("sqrt(x)", "{x1: -10, x2: 0, x3: 0}", "no real value"),
    ("log(x)", "{x1: 0, x2: 0, x3: 0}", "not a finite number"),
])
def test_values_a_formula_cannot_take_are_clean_errors(runner: CliRunner, tmp_path: Path, monkeypatch,
                                                       formula: str, inputs: str, words: str) -> None:
    monkeypatch.chdir(tmp_path)
    text = spec_with(f'{{formula: "{formula}"}}').replace("inputs: {x1: 6, x2: 2, x3: 5}", f"inputs: {inputs}")
    text = text.replace("bias: 0.01, weights: {x1: 0.42", "bias: 0, weights: {x1: 1")
    text = text.replace("h2: {bias: 0.01,", "h2: {bias: 0,")
    Path("spec.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(main, ["solve", "spec.yaml", "-f", "json"])
    assert result.exit_code == 2, (result.output, repr(result.exception))
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("derive: error:") and words in result.stderr, result.stderr
