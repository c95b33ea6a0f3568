"""Fuzzing `derive solve`: every mutated spec succeeds or fails cleanly.

Each example starts from the text of a problem in problems/ and breaks it: in its data
(wrong types, missing and extra keys, huge, tiny and non-finite numbers, empty layers,
cycles and forward references, unicode and control characters in names and titles, very
long strings) and in its text (YAML anchors, aliases and tags, duplicate keys, deep
nesting, number spellings, binary garbage, truncation). The contract, for Markdown,
JSON and LaTeX alike:

- exit 0 with the document on stdout and nothing on stderr (JSON: parseable, every
  number finite); or
- exit 2 with nothing on stdout and one paragraph on stderr starting `derive: error:`
  that names the file, and the line of every problem found in the spec;
- never a traceback, never another exit code, never a file the spec asked to create.

The CI test runs 500 derandomized examples (same examples every run); the `slow` one
runs 5000 random examples: `pytest -m slow tests/test_fuzz.py`.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main
from derive.errors import SpecError
from derive.spec import ACTIVATIONS, LOSSES, MAX_SPEC_BYTES, load_spec

ROOT = Path(__file__).resolve().parent.parent
from canonical import PROBLEMS  # noqa: E402  (exam templates excluded)
TEXTS = [path.read_text(encoding="utf-8") for path in PROBLEMS]
DATA = [yaml.safe_load(text) for text in TEXTS]
SPEC_NAME = "spec.yaml"
CANARY = "PWNED"  # a file the hostile tags below would create if YAML ran code
FORMATS = ("md", "json", "tex")

# --- hostile values ------------------------------------------------------------------

HOSTILE_CHARS = (
    "\x00\x01\x07\x08\t\n\r\x0b\x0c\x1b\x7f\x85\xa0\u2028\u2029\u200b\u200d\u202e\u2066\ufeff"
    "\ufffe\uffff\ud800\udfff"  # control, separator, bidi, BOM, non-characters, lone surrogates
    "éß∂∑σ→日本語😀👨‍👩‍👧ﷺ𝔘"  # letters and symbols beyond ASCII, astral plane
    "\\{}$%^~&#_<>|`*[]()!+-.:'\"@,?= "  # what LaTeX, Markdown and YAML act on
)
hostile_text = st.one_of(
    st.text(alphabet=HOSTILE_CHARS, max_size=12),
    st.text(max_size=12),
    st.sampled_from([
        "", " ", "exec", "eval", "__import__('os').system('touch PWNED')", "${{7*7}}",
        "{{ 7*7 }}", "{% raw %}", r"\input{/etc/passwd}", r"\write18{touch PWNED}",
        "# heading", "<script>alert(1)</script>", "[x](javascript:alert(1))", "$x$",
        "E", "I", "S", "N", "oo", "pi", "nan", "inf", "zoo", "lambda", "None", "True",
        "x1", "h1", "o", "y", "L", "w_{11}^{(1)}", "-", "~", "null", "yes", "no",
    ]),
)
# A very long string: 41 breaks the name limit, the rest stress messages and documents.
long_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["A", "é", "{", "日", "\\", "x "]),
                      st.sampled_from([41, 1_000, 100_000]))
hostile_float = st.one_of(
    st.floats(),  # nan, inf, subnormals, 1e308 and everything between
    st.sampled_from([1e300, -1e300, 1e308, 5e-324, 1e-320, -0.0, 0.0, 1e-300, 1000.0, -1000.0,
                     1e5, 0.5, 1.0, 1.5, -1.5, 2.0]),
    st.floats(min_value=-1e3, max_value=1e3),
)
hostile_scalar = st.one_of(
    st.none(), st.booleans(), hostile_float, hostile_text, long_text,
    st.integers(), st.integers(min_value=10**300, max_value=10**400),
    st.binary(max_size=8), st.dates(),
)
hostile_value = st.recursive(
    hostile_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(hostile_text, st.integers()), inner, max_size=3)),
    max_leaves=6,
)
hostile_key = st.one_of(
    hostile_text, long_text, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False),
    st.sampled_from(["title", "inputs", "layers", "targets", "loss", "learning_rate", "activation",
                     "neurons", "bias", "weights", "name", "slope", "samples", "<<", "x1", "h1", "o"]),
)
# Number spellings as they appear in the text, each read unlike a person reads it, or not a
# number at all, or a number no double holds.
NUMBER_LITERALS = [
    "1e300", "-1e300", "1e308", "1.7976931348623157e308", "1e309", "-1e999", "1e-320", "5e-324",
    "1e-400", ".inf", "-.inf", ".nan", ".NaN", "NaN", "Infinity", "0", "-0", "-0.0", "+.5", "5.",
    "0x10", "010", "0o17", "0b11", "1_000", "1:30", "9" * 400, "1e", "1.2.3", "++1", "1e+",
    "∞", "١٢٣", "1,5", "½", "'0.5'", '"1"', "~", "null", "true", "on", "2024-01-01",
    "2024-02-30", "!!int abc", "!!float 1", "!!str 1", "[1]", "{a: 1}", "-", "1000", "-1000",
]
TAGS = [
    '!!python/object/apply:os.system ["touch PWNED"]', "!!python/name:os.system",
    '!!python/object/new:os.system ["touch PWNED"]', "!!python/module:os",
    "!!python/object/apply:subprocess.check_output [[touch, PWNED]]", "!!binary AAAA",
    "!!set {a, b}", "!!omap [a: 1]", "!!timestamp 2001-12-14", "!custom x", "!!str",
    "!!map {}", "!!seq []", "!!null", "!!bool yes", "!<tag:yaml.org,2002:int> 5",
]
GARBAGE = [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3\x28", b"\xed\xa0\x80", b"\x80",
           b"\x1b[2J", b"\r", b"\t", b"%YAML 1.1\n", b"---\n", b"...\n", b"\n---\nx: 1\n",
           b"&a", b"*a", b"? ", b": ", b"- ", b"[", b"{", b"'", b'"', b"|", b">", b"#"]
NUMBER = re.compile(rb"(?<=[:{,] )-?[0-9.]+(?:e-?[0-9]+)?")  # a number in the file's bytes


# --- mutations of the data -------------------------------------------------------------

def locations(tree: Any, path: tuple = ()) -> list[tuple]:
    """Every place in `tree` (a path of keys and indexes), the root's children first."""
    found = []
    if isinstance(tree, dict):
        items = list(tree.items())
    elif isinstance(tree, list):
        items = list(enumerate(tree))
    else:
        return found
    for key, value in items:
        found.append(path + (key,))
        found.extend(locations(value, path + (key,)))
    return found


def parent_of(tree: Any, path: tuple) -> Any:
    for key in path[:-1]:
        tree = tree[key]
    return tree


def neurons_by_layer(spec: dict) -> list[list[str]]:
    layers = spec.get("layers") if isinstance(spec, dict) else None
    found = []
    for layer in layers if isinstance(layers, list) else []:
        neurons = layer.get("neurons") if isinstance(layer, dict) else None
        found.append(list(neurons) if isinstance(neurons, dict) else [])
    return found


@st.composite
def data_mutation(draw: st.DrawFn, spec: dict) -> None:
    """One change to the spec's data, in place."""
    op = draw(st.sampled_from(["replace", "replace", "delete", "add", "rename", "empty",
                               "reference", "reorder", "target", "activation", "loss", "number",
                               "title", "title", "identifier", "identifier", "value", "value"]))
    places = locations(spec)
    numbers = [p for p in places if isinstance(parent_of(spec, p)[p[-1]], (int, float))]
    if op in ("replace", "delete", "rename", "number") and places:
        path = draw(st.sampled_from(places))
        parent, key = parent_of(spec, path), path[-1]
        if op == "replace":
            parent[key] = draw(hostile_value)
        elif op == "number":
            parent[key] = draw(hostile_float)
        elif op == "delete":
            del parent[key]
        elif isinstance(parent, dict):  # rename
            new = draw(hostile_key)
            parent[new] = parent.pop(key)
    elif op == "title":  # kept valid: any text at all
        spec["title"] = draw(st.one_of(hostile_text, long_text, st.text()))
    elif op == "identifier":  # kept valid: a unit renamed everywhere to another identifier
        names = [n for names in neurons_by_layer(spec) for n in names]
        names += list(spec["inputs"]) if isinstance(spec.get("inputs"), dict) else []
        if names:
            rename_everywhere(spec, draw(st.sampled_from(names)), draw(identifier))
    elif op == "value" and numbers:  # kept valid: a finite number, often one that saturates
        path = draw(st.sampled_from(numbers))
        parent_of(spec, path)[path[-1]] = draw(st.one_of(
            st.floats(min_value=-1e3, max_value=1e3), st.sampled_from([0.0, 1000.0, -1000.0, 1e-9, 1.0])))
    elif op == "add":
        containers = [()] + [p for p in places if isinstance(parent_of(spec, p)[p[-1]], dict)]
        path = draw(st.sampled_from(containers))
        target = spec if not path else parent_of(spec, path)[path[-1]]
        target[draw(hostile_key)] = draw(hostile_value)
    elif op == "empty":
        layers = spec.get("layers")
        choice = draw(st.integers(0, 3))
        if choice == 0 or not isinstance(layers, list) or not layers:  # an earlier mutation may
            spec["layers"] = draw(st.sampled_from([[], None, {}, [{}], [None]]))  # have replaced it
        else:
            layer = draw(st.sampled_from(layers))
            if isinstance(layer, dict):
                layer["neurons"] = draw(st.sampled_from([{}, None, [], "", {"n": {}}]))
    elif op == "reference":  # a weight from the neuron itself, its own layer or a later one
        layers = neurons_by_layer(spec)
        chosen = [(i, name) for i, names in enumerate(layers) for name in names]
        if chosen:
            i, name = draw(st.sampled_from(chosen))
            later = [n for names in layers[i:] for n in names]
            source = draw(st.sampled_from(later + ["nobody"]))
            neuron = spec["layers"][i]["neurons"][name]
            if isinstance(neuron, dict) and isinstance(neuron.get("weights"), dict):
                neuron["weights"][source] = 0.5
    elif op == "reorder":
        if isinstance(spec.get("layers"), list):
            spec["layers"] = draw(st.permutations(spec["layers"]))
    elif op == "target":
        names = [n for names in neurons_by_layer(spec) for n in names] + ["x1", "nobody"]
        spec["targets"] = {draw(st.sampled_from(names)): draw(hostile_float)}
    elif op == "activation":
        layers = spec.get("layers")
        if isinstance(layers, list) and layers and isinstance(layers[-1], dict):
            index = draw(st.integers(0, len(layers) - 1))
            if isinstance(layers[index], dict):
                layers[index]["activation"] = draw(st.one_of(
                    st.sampled_from(ACTIVATIONS + ("Sigmoid", "relu6", "", "leaky relu")),
                    st.fixed_dictionaries({"name": st.sampled_from(ACTIVATIONS)},
                                          optional={"slope": hostile_float}),
                    st.fixed_dictionaries({"formula": formula}, optional={"name": identifier}),
                    hostile_value))
    elif op == "loss":
        spec["loss"] = draw(st.one_of(st.sampled_from(LOSSES), hostile_value))


# Custom activations are formulas in x, read by derive.formula's own parser: text that is
# almost a formula, Python, and formulas that are costly or undefined.
formula = st.one_of(
    st.text(alphabet="x0123456789.eE+-*/^() absqrtlogxpinhcgmd_,", max_size=24),
    st.sampled_from([
        "x", "x/(1+abs(x))", "x*sigmoid(x)", "log(1+exp(x))", "x^2", "x**2", "-x^2", "2^-1*x",
        "9^9^9", "x^(10^10)", "x^x^x^x", "exp(exp(exp(x)))", "log(x)", "sqrt(x)", "1/x", "1/0*x",
        "log(-1)*x", "x^1e300", "1e300^10*x", "abs(x)^0.5", "(((((((((((x)))))))))))" * 3,
        "(" * 40 + "x" + ")" * 40, "x" + "+x" * 150, "__import__('os').system('touch PWNED')",
        "x.__class__", "exec('x')", "lambda x: x", "x if x else x", "[x for x in ()]", "X", "y",
        "sigmoid", "sigmoid()", "sigmoid(x, x)", "x(x)", "2x", "x 2", "", " ", "ｘ", "x\u0000",
    ]),
)
identifier = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,39}", fullmatch=True),
    st.sampled_from(["exec", "eval", "E", "I", "S", "N", "O", "Q", "oo", "pi", "nan", "inf", "zoo",
                     "lambda", "None", "import", "class", "def", "os", "sys", "L", "y", "w", "b",
                     "x", "a", "z", "x_1", "a_b_c", "A" * 40]),
)


def rename_everywhere(spec: dict, old: str, new: str) -> None:
    """Rename input or neuron `old` in every place a unit is named (keys keep their order)."""
    def renamed(mapping: Any) -> Any:
        if not isinstance(mapping, dict) or old not in mapping:
            return mapping
        return {(new if key == old else key): value for key, value in mapping.items()}

    spec["inputs"] = renamed(spec.get("inputs"))
    spec["targets"] = renamed(spec.get("targets"))
    for layer in spec.get("layers") or []:
        if isinstance(layer, dict):
            layer["neurons"] = renamed(layer.get("neurons"))
            for neuron in (layer["neurons"] or {}).values() if isinstance(layer["neurons"], dict) else []:
                if isinstance(neuron, dict):
                    neuron["weights"] = renamed(neuron.get("weights"))


def dump(spec: Any, unicode: bool, flow: bool | None) -> bytes:
    try:
        text = yaml.safe_dump(spec, allow_unicode=unicode, default_flow_style=flow, sort_keys=False,
                              width=10**9)
    except (yaml.YAMLError, TypeError, ValueError):  # a value YAML cannot write: keep the original
        text = yaml.safe_dump({"unwritable": True})
    # lone surrogates are written as they are: the file is then not UTF-8, which is a case too
    return text.encode("utf-8", "surrogatepass")


# --- mutations of the text -------------------------------------------------------------

@st.composite
def text_mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    """One change to the file's bytes."""
    lines = raw.split(b"\n")
    op = draw(st.sampled_from(["duplicate", "delete", "swap", "garbage", "chars", "truncate",
                               "number", "alias", "laughs", "deep", "tag", "tabs", "markers",
                               "crlf", "bom", "random"]))
    if op == "duplicate":  # a repeated key, at the top or inside a mapping
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(i, len(lines))), lines[i])
    elif op == "delete":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif op == "swap":
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "garbage":
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.one_of(st.sampled_from(GARBAGE), st.binary(min_size=1, max_size=16)))
        return raw[:at] + junk + raw[at:]
    elif op == "chars":
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.text(alphabet=HOSTILE_CHARS, min_size=1, max_size=4))
        return raw[:at] + junk.encode("utf-8", "surrogatepass") + raw[at:]
    elif op == "truncate":
        return raw[:draw(st.integers(0, len(raw)))]
    elif op == "number":
        spots = list(NUMBER.finditer(raw))
        if spots:
            spot = draw(st.sampled_from(spots))
            literal = draw(st.sampled_from(NUMBER_LITERALS)).encode()
            return raw[:spot.start()] + literal + raw[spot.end():]
    elif op == "alias":  # anchor one value, use it elsewhere (or before, or inside itself)
        spots = list(NUMBER.finditer(raw))
        if len(spots) >= 2:
            a, b = draw(st.sampled_from(spots)), draw(st.sampled_from(spots))
            name = draw(st.sampled_from([b"a", b"x1", b"a" * 300]))
            edits = sorted([(a.start(), a.start(), b"&" + name + b" "), (b.start(), b.end(), b"*" + name)],
                           reverse=True)
            if a.start() != b.start():
                for start, end, new in edits:
                    raw = raw[:start] + new + raw[end:]
        return raw
    elif op == "laughs":  # the billion laughs, before or inside the spec
        levels = draw(st.integers(2, 12))
        laughs = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
        laughs += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels)]
        block = "\n".join(laughs).encode()
        if draw(st.booleans()):
            return block + b"\n" + raw
        return raw.replace(b"title:", block + b"\ntitle: *l%d\nx_title:" % (levels - 1), 1)
    elif op == "deep":
        depth = draw(st.sampled_from([5, 19, 20, 21, 50, 1_000, 50_000]))
        opening, closing = draw(st.sampled_from([(b"[", b"]"), (b"{a: ", b"}"), (b"- ", b"")]))
        value = opening * depth + b"1" + closing * depth  # `- - - 1` nests block lists
        i = draw(st.integers(0, len(lines) - 1))
        key = lines[i].split(b":")[0] if b":" in lines[i] else b"deep"
        lines[i] = key + b": " + value
    elif op == "tag":
        spots = list(NUMBER.finditer(raw)) + list(re.finditer(rb"(?<=title: )", raw))
        if spots:
            at = draw(st.sampled_from(spots)).start()
            return raw[:at] + draw(st.sampled_from(TAGS)).encode() + b" " + raw[at:]
        return raw
    elif op == "tabs":
        return raw.replace(b"  ", b"\t", draw(st.integers(1, 5)))
    elif op == "markers":
        return draw(st.sampled_from([b"---\n", b"%YAML 1.1\n---\n", b"%YAML 9.9\n---\n",
                                     b"--- !!map\n", b"%TAG ! tag:x,2000:\n---\n"])) + raw + \
            draw(st.sampled_from([b"", b"...\n", b"---\n", b"---\nx: 1\n"]))
    elif op == "crlf":
        return raw.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r", "\x85".encode(),
                                                         "\u2028".encode()])))
    elif op == "bom":
        return draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"])) + raw
    else:  # random bytes, valid UTF-8 or not
        return draw(st.binary(max_size=200))
    return b"\n".join(lines)


@st.composite
def mutated_spec(draw: st.DrawFn) -> bytes:
    """A problem from problems/, broken in its data, then (sometimes) in its text."""
    index = draw(st.integers(0, len(TEXTS) - 1))
    raw = TEXTS[index].encode("utf-8")
    if draw(st.booleans()):
        spec = json.loads(json.dumps(DATA[index]))  # a deep copy
        for _ in range(draw(st.integers(1, 3))):
            draw(data_mutation(spec))
        raw = dump(spec, unicode=draw(st.booleans()), flow=draw(st.sampled_from([None, True, False])))
    for _ in range(draw(st.integers(0 if raw != TEXTS[index].encode() else 1, 2))):
        raw = draw(text_mutation(raw))
    return raw


# --- the contract ----------------------------------------------------------------------

LOCATED = re.compile(re.escape(SPEC_NAME) + r":\d+: ")
# SymPy's NaN and infinities as LaTeX; not a title's escaped \{NaN\} or its ∞, \ensuremath{\infty}
NOT_A_NUMBER = re.compile(r"(?<![\\{])\\infty|(?<!\\)\{NaN\}|\\text\{NaN\}|\\mathrm\{NaN\}")


def reject_constant(name: str) -> float:
    raise AssertionError(f"JSON answer key holds {name}")


def check_clean(result: Any, fmt: str, spec: Path) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.exit_code in (0, 2), (result.exit_code, repr(result.exception), output[-2000:])
    if result.exit_code == 0:
        assert result.exception is None, repr(result.exception)
        assert result.stderr == ""
        assert result.stdout
        if fmt == "json":
            key = json.loads(result.stdout, parse_constant=reject_constant)
            numbers = [v for v in walk(key) if isinstance(v, float)]
            assert all(math.isfinite(v) for v in numbers)
        else:
            assert not NOT_A_NUMBER.search(result.stdout), NOT_A_NUMBER.search(result.stdout)
        return
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    message = result.stderr
    assert message.startswith("derive: error: "), message
    assert message.endswith("\n") and "\n\n" not in message, message  # one paragraph
    assert all(line.isprintable() for line in message.rstrip("\n").split("\n")), ascii(message)
    assert SPEC_NAME in message, message


def check_located(spec: Path, fmt_results: dict[str, Any]) -> None:
    """A spec the spec stage refuses: refused the same way in every format, each problem
    with its line (only a file beyond the size limit has none)."""
    try:
        load_spec(SPEC_NAME)  # as the command names it: we are in its folder
    except SpecError as error:
        for problem in error.problems:
            assert problem.line is not None or "limit" in problem.message, problem
        for fmt, result in fmt_results.items():
            assert result.exit_code == 2, fmt
            for problem in error.problems:
                assert f"{problem.file}:{problem.line}: " in result.stderr or problem.line is None
            assert LOCATED.search(result.stderr) or len(spec.read_bytes()) > MAX_SPEC_BYTES


def walk(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    else:
        yield value


def solve_every_format(raw: bytes) -> None:
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as folder:
        # run in the spec's folder, so the messages name it as a user would: spec.yaml
        previous = os.getcwd()
        os.chdir(folder)
        try:
            spec = Path(SPEC_NAME)
            spec.write_bytes(raw)
            results = {fmt: runner.invoke(main, ["solve", SPEC_NAME, "-f", fmt]) for fmt in FORMATS}
            for fmt, result in results.items():
                check_clean(result, fmt, spec)
            check_located(spec, results)
            assert sorted(p.name for p in Path(folder).iterdir()) == [SPEC_NAME]  # no PWNED, no leftovers
        finally:
            os.chdir(previous)


COMMON = dict(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


@settings(max_examples=500, derandomize=True, database=None, **COMMON)
@given(mutated_spec())
def test_mutated_specs_succeed_or_fail_cleanly(raw):
    solve_every_format(raw)


# Marked slow: deselected by default (pyproject addopts -m "not slow"), run with -m slow.
@pytest.mark.slow
@settings(max_examples=5000, **COMMON)
@given(mutated_spec())
def test_mutated_specs_succeed_or_fail_cleanly_long_run(raw):
    solve_every_format(raw)


def test_the_mutations_start_from_every_problem():
    assert len(PROBLEMS) >= 5
    for text in TEXTS:
        assert NUMBER.search(text.encode())
