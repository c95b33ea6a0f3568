"""Hostile specs: no code runs, no TeX or Markdown is injected, reading is bounded, output
is deterministic and numbers stay finite.

Every run goes through the `derive` command (click's CliRunner, or a real process where
the interpreter itself matters); a spec that is refused must be refused with exit code 2
and one `derive: error:` message naming the file, never a traceback. Expected numbers are
closed forms worked out by hand in the comments, not the program's output.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from canonical import PROBLEMS
from renderers import compile_tex, math_fragments, require

from cli import main

ROOT = Path(__file__).resolve().parent.parent
Q2 = (ROOT / "problems" / "q2.yaml").read_text(encoding="utf-8")
SPEC = "spec.yaml"
FORMATS = ("md", "tex", "json")


def with_title(title: str) -> str:
    """problems/q2.yaml with `title` as a YAML double-quoted string (JSON escapes are YAML's)."""
    line = 'title: "Question 2"'
    assert Q2.count(line) == 1
    return Q2.replace(line, "title: " + json.dumps(title))


def solve(runner: CliRunner, text: str | bytes, *args: str):
    path = Path(SPEC)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return runner.invoke(main, ["solve", SPEC, *args])


def assert_ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, repr(result.exception), result.output[-3000:])
    assert result.stderr == ""
    return result.stdout


def assert_clean_error(result) -> str:
    """Exit 2 by a deliberate exit; one paragraph naming the file; no traceback."""
    assert result.exit_code == 2, (result.exit_code, repr(result.exception), result.output[-3000:])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    message = result.stderr
    assert message.startswith("derive: error: ") and SPEC in message, message
    assert "\n\n" not in message.strip() and "Traceback" not in message, message
    return message


def assert_nothing_ran(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [SPEC], list(folder.iterdir())


def key(runner: CliRunner, text: str) -> dict:
    return json.loads(assert_ok(solve(runner, text, "-f", "json")), parse_constant=refuse)


def refuse(name: str) -> float:
    raise AssertionError(f"the JSON holds {name}")


# --- no code runs ------------------------------------------------------------------------

PYTHON_TAGS = [
    '!!python/object/apply:os.system ["touch PWNED"]',
    '!!python/object/new:os.system ["touch PWNED"]',
    "!!python/object/apply:subprocess.check_output [[touch, PWNED]]",
    '!!python/object/apply:builtins.exec ["open(\'PWNED\', \'w\')"]',
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:os.PathLike {}",
]
PLACES = {  # where in the spec the tag goes
    "title": ('title: "Question 2"', "title: {tag}"),
    "number": ("x1: 6,", "x1: {tag},"),
    "key": ("x1: 6,", "? {tag}\n  : 6,"),
    "document": (None, "{tag}\n"),
}


@pytest.mark.parametrize("tag", PYTHON_TAGS)
@pytest.mark.parametrize("place", sorted(PLACES))
def test_python_tags_never_run_code(runner, in_tmp, tag, place):
    old, new = PLACES[place]
    text = new.format(tag=tag) if old is None else Q2.replace(old, new.format(tag=tag))
    for fmt in FORMATS:
        result = solve(runner, text, "-f", fmt)
        assert_nothing_ran(in_tmp)
        if result.exit_code == 0:  # a tag on a scalar is ignored: the value is its literal text
            assert "built-in" not in result.stdout and "module" not in result.stdout
        else:
            assert_clean_error(result)


def test_a_python_tag_where_text_belongs_is_a_located_error(runner, in_tmp):
    result = solve(runner, Q2.replace('title: "Question 2"', f"title: {PYTHON_TAGS[0]}"))
    assert assert_clean_error(result) == "derive: error: spec.yaml:2: title: expected text, found a list\n"


CODE_TITLES = [
    "__import__('os').system('touch PWNED')",
    "exec(\"open('PWNED', 'w')\")",
    "$(touch PWNED)", "`touch PWNED`", "; touch PWNED", "| touch PWNED",
    "{{ 7*7 }}", "{% for i in range(3) %}loop{% endfor %}", "{# comment #}", "${7*7}", "#{7*7}",
    "lambda: 0", "Symbol('x') + oo", "sympify('1/0')",
]


@pytest.mark.parametrize("title", CODE_TITLES)
def test_a_title_that_is_code_is_printed_as_text(runner, in_tmp, title):
    assert key(runner, with_title(title))["title"] == title
    markdown = assert_ok(solve(runner, with_title(title)))
    heading = markdown.splitlines()[0]
    assert heading.startswith("# ")
    # Jinja did not run it: {{ 7*7 }} is not 49, the loop did not repeat
    assert "49" not in heading and "looploop" not in heading
    # what is left of it once Markdown's escapes are removed is the title itself
    assert re.sub(r"\\(.)", r"\1", heading[2:]) == title
    tex = assert_ok(solve(runner, with_title(title), "-f", "tex"))
    assert "49" not in tex.split(r"\maketitle")[0].split(r"\title")[1]
    assert_nothing_ran(in_tmp)


HOSTILE_FORMULAS = [
    "__import__('os').system('touch PWNED')", "exec(\"open('PWNED', 'w')\")", "x.__class__",
    "lambda x: x", "x if x else x", "[x for x in ()]", "os.system", "x; import os", "x\u0000",
    "9^9^9", "x^(10^10)", "exp(exp(exp(exp(x))))^9", "(" * 500 + "x" + ")" * 500,
]


def with_formula(formula: str) -> str:
    return Q2.replace("  - activation: sigmoid\n    neurons:\n      o:",
                      f"  - activation: {{formula: {json.dumps(formula)}, name: custom}}\n    neurons:\n      o:")


@pytest.mark.parametrize("formula", HOSTILE_FORMULAS)
def test_a_formula_is_never_code_and_never_hangs(runner, in_tmp, formula):
    """A custom activation's formula is read by derive's own grammar: code in it is an error
    (or, where it is a formula after all, a formula), and a formula too costly to
    differentiate is refused quickly."""
    solve(runner, Q2)  # warm up
    start = time.perf_counter()
    for fmt in FORMATS:
        result = solve(runner, with_formula(formula), "-f", fmt)
        if result.exit_code != 0:
            assert_clean_error(result)
    assert time.perf_counter() - start < 10
    assert_nothing_ran(in_tmp)


# Names that mean something to Python or SymPy: E (Euler's number), I (the imaginary
# unit), oo (infinity), pi, nan, zoo, S, N, Q, lambda and exec.
RENAMES = {"x1": "exec", "x2": "E", "x3": "I", "h1": "lambda", "h2": "oo", "g1": "nan", "g2": "pi",
           "o": "zoo"}


def renamed_q2(names: dict[str, str]) -> str:
    text = Q2
    for old, new in names.items():
        text = re.sub(rf"\b{old}\b", new, text)
    return text


def test_names_that_mean_something_to_python_or_sympy_are_only_names(runner, in_tmp):
    """The numbers of q2 do not change when its units are renamed to E, I, oo, pi, ..."""
    plain, renamed = key(runner, Q2), key(runner, renamed_q2(RENAMES))
    step, other = plain["steps"][0], renamed["steps"][0]
    assert other["loss"] == step["loss"]
    assert other["forward"] == {RENAMES[name]: values for name, values in step["forward"].items()}
    assert [(p["symbol"], p["value"], p["gradient"], p["updated"]) for p in other["parameters"]] == \
        [(p["symbol"], p["value"], p["gradient"], p["updated"]) for p in step["parameters"]]
    for fmt in ("md", "tex"):
        assert_ok(solve(runner, renamed_q2(RENAMES), "-f", fmt))
    assert_nothing_ran(in_tmp)


class Watch:
    """A Python audit hook that notes any eval/exec/compile of source text, shell or new
    process whose arguments contain `marker`: sympify and parse_expr compile their input,
    Jinja compiles a template's source, os.system and subprocess raise their own events.
    Audit hooks cannot be removed, so one hook is installed once and switched on and off."""

    EVENTS = ("compile", "exec", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
              "subprocess.Popen", "pty.spawn", "code.__new__")
    marker: str | None = None
    seen: list[tuple[str, str]] = []
    installed = False

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if cls.marker is None or event not in cls.EVENTS:
            return
        text = " ".join(a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)
                        for a in flatten(args))
        if cls.marker in text:
            cls.seen.append((event, text[:200]))

    @classmethod
    def start(cls, marker: str) -> None:
        if not cls.installed:
            sys.addaudithook(cls.hook)
            cls.installed = True
        cls.marker, cls.seen = marker, []

    @classmethod
    def stop(cls) -> list[tuple[str, str]]:
        cls.marker = None
        return cls.seen


def flatten(args: object):
    if isinstance(args, (list, tuple)):
        for item in args:
            yield from flatten(item)
    elif isinstance(args, (str, bytes)):
        yield args


def test_spec_text_never_reaches_eval_sympify_templates_or_a_shell(runner, in_tmp):
    marker = "zqxCanary"
    # the watch works: it sees what sympify and eval would do with text holding the marker
    Watch.start(marker)
    import sympy
    sympy.sympify(f"{marker} + 1")
    eval(f"'{marker}'")  # noqa: S307 (the positive control)
    assert {event for event, _ in Watch.stop()} >= {"compile"}
    # a title and unit names holding the marker, through every format and the worksheet
    names = {"x1": f"{marker}In", "h1": f"{marker}Hidden", "o": f"{marker}Out"}
    text = renamed_q2(names).replace('"Question 2"', json.dumps(
        f"__import__('os').system('touch PWNED') {{{{ {marker} }}}} $(touch {marker})"))
    Watch.start(marker)
    try:
        for fmt in FORMATS:
            assert_ok(solve(runner, text, "-f", fmt))
            assert_ok(runner.invoke(main, ["worksheet", SPEC, "-f", fmt if fmt != "json" else "md"]))
        assert_clean_error(solve(runner, text.replace("loss: half_squared_error", f"loss: {marker}")))
        # a custom activation's formula holding the marker, as a function and as a name
        for formula in (f"{marker}(x)", f"x*{marker}", f"__import__('{marker}')"):
            assert_clean_error(solve(runner, with_formula(formula)))
    finally:
        seen = Watch.stop()
    assert seen == []
    assert_nothing_ran(in_tmp)


# --- no TeX injection -------------------------------------------------------------------

HOSTILE_TEX = (r"\input{/etc/passwd} \write18{touch PWNED} \def\x{boom}\x \catcode`\@=11 "
               r"$ % ^ ~ & # { } \\ _ < > | end" + "\nnext\tline\x01\x07\x1b[2J\u202e done")


def literal(title: str) -> str:
    """The title as it must read in a PDF: non-printing characters are spaces, space runs one."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in title).split())


def pdf_text(pdf: Path) -> str:
    require("pdftotext")
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def squeezed(text: str) -> str:
    """Whitespace removed, and words TeX broke at a line end joined again."""
    return re.sub(r"\s+", "", text.replace("-\n", ""))


def passwd_marker() -> str:
    passwd = Path("/etc/passwd")
    if not passwd.is_file() or "root:" not in passwd.read_text(errors="replace"):
        pytest.skip("no /etc/passwd with a root entry to leak")
    return "root:"


def test_hostile_title_is_escaped_in_the_latex_source(runner, in_tmp):
    tex = assert_ok(solve(runner, with_title(HOSTILE_TEX), "-f", "tex"))
    title = tex.split(r"\title{")[1].split(r"\maketitle")[0]
    for command in (r"\input", r"\write18", r"\def", r"\catcode", r"\x"):
        assert command not in title
    assert "\x1b" not in tex and "\x01" not in tex and "\u202e" not in tex
    assert not re.search(r"(?<!\\)[$%&#]", title.split("}", 1)[0])


def test_hostile_title_compiles_to_its_literal_text(runner, in_tmp, tmp_path_factory):
    leak = passwd_marker()
    tex = assert_ok(solve(runner, with_title(HOSTILE_TEX), "-f", "tex"))
    work = tmp_path_factory.mktemp("tex")
    pdf, log = compile_tex(tex, work)
    text = pdf_text(pdf)
    assert squeezed(literal(HOSTILE_TEX)) in squeezed(text)
    assert leak not in text and "(/etc/passwd" not in log
    assert not (work / "PWNED").exists() and not (in_tmp / "PWNED").exists()


def test_hostile_title_through_derive_pdf(runner, in_tmp):
    require("pdflatex")
    leak = passwd_marker()
    Path(SPEC).write_text(with_title(HOSTILE_TEX), encoding="utf-8")
    assert_ok(runner.invoke(main, ["solve", SPEC, "-f", "pdf", "-o", "key.pdf"]))
    text = pdf_text(in_tmp / "key.pdf")
    assert squeezed(literal(HOSTILE_TEX)) in squeezed(text)
    assert leak not in text
    assert sorted(p.name for p in in_tmp.iterdir()) == ["key.pdf", SPEC]


UNICODE_TITLE = "Réseau für Übung 2 — σ-Netz, ∂L/∂w ≤ η · 2"


def test_unicode_title_compiles_to_its_literal_text(runner, in_tmp, tmp_path_factory):
    """Titles in other languages and with the notation of the course: pdflatex has no glyph
    for σ, ∂ or ≤ in its text fonts, so they must reach it as something it can set."""
    tex = assert_ok(solve(runner, with_title(UNICODE_TITLE), "-f", "tex"))
    pdf, _ = compile_tex(tex, tmp_path_factory.mktemp("tex"))
    assert squeezed(UNICODE_TITLE) in squeezed(pdf_text(pdf))


def test_a_title_pdflatex_cannot_set_still_compiles(runner, in_tmp, tmp_path_factory):
    """CJK and emoji have no glyph in pdflatex's fonts: the PDF still builds, and the
    letters around them are intact."""
    title = "Übung 日本語 😀 end"
    tex = assert_ok(solve(runner, with_title(title), "-f", "tex"))
    pdf, _ = compile_tex(tex, tmp_path_factory.mktemp("tex"))
    text = squeezed(pdf_text(pdf))
    assert "Übung" in text and "end" in text


# --- no Markdown injection -----------------------------------------------------------------

MARKDOWN_TITLES = [
    "# heading", "## not a subheading", "<script>alert(1)</script>", "<b>bold</b>",
    "[link](javascript:alert(1))", "![image](x.png)", "<http://example.com>", "[ref]: /x",
    "$x$", "$$x$$", "*bold*", "**strong**", "_em_", "__strong__", "`code`", "~~strike~~",
    "&lt;b&gt; &amp; &#60;", "1. not a list", "- not a list", "+ not a list", "> not a quote",
    "| a | b |", "---", "===", "    indented", "\\", "\\*not bold\\*", "line one\nline two",
    "a\x00b\x1bc", "<!-- comment -->", "[^note]", "{{ 7*7 }}", "a_b_c * d * e",
]


def markdown_shape(markdown: str) -> list[str]:
    """The document's structure as markdown-it parses it: one entry per token and per inline
    child (headings, links, emphasis, HTML, code, images...), without the text."""
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(markdown)
    shape = []
    for token in tokens:
        shape.append(f"{token.type}:{token.tag}")
        shape.extend(f"  {child.type}:{child.tag}" for child in token.children or []
                     if child.type not in ("text", "softbreak"))
    return shape


def heading_text(markdown: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").parse(markdown)
    assert tokens[0].type == "heading_open" and tokens[0].tag == "h1"
    inline = tokens[1]
    assert {child.type for child in inline.children} <= {"text", "softbreak"}, inline.children
    return "".join(child.content for child in inline.children)


@pytest.mark.parametrize("title", MARKDOWN_TITLES)
def test_markdown_title_is_literal_text(runner, in_tmp, title):
    """No heading, HTML, link, image, emphasis, code or math comes from the title: the
    document parses to the same structure as with a plain title, and its heading reads as
    the title."""
    plain = assert_ok(solve(runner, with_title("Plain")))
    hostile = assert_ok(solve(runner, with_title(title)))
    assert markdown_shape(hostile) == markdown_shape(plain)
    assert len(math_fragments(hostile)) == len(math_fragments(plain))
    assert heading_text(hostile) == literal(title)


# --- reading is bounded -------------------------------------------------------------------

def billion_laughs(levels: int = 9) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\ntitle: *l{levels - 1}\n" + Q2.split("\n", 2)[2]


def test_billion_laughs_fails_fast_with_a_located_error(runner, in_tmp):
    solve(runner, Q2)  # warm up: imports are not what is timed
    start = time.perf_counter()
    result = solve(runner, billion_laughs())
    elapsed = time.perf_counter() - start
    message = assert_clean_error(result)
    assert elapsed < 1.0, elapsed
    assert re.match(r"derive: error: spec\.yaml:4: l3\[\d\]: YAML aliases repeat too much", message), message


def test_many_aliases_are_refused(runner, in_tmp):
    anchors = "\n".join(f"a{i}: &a{i} 1" for i in range(1001))
    uses = "\n".join(f"b{i}: *a{i}" for i in range(1001))
    message = assert_clean_error(solve(runner, anchors + "\n" + uses + "\n" + Q2))
    assert "spec.yaml:2002: b1000: too many YAML aliases" in message, message
    # 1000 are within the limit (the keys are then unknown, which is the next problem)
    fewer = anchors + "\n" + "\n".join(f"b{i}: *a{i}" for i in range(1000)) + "\n" + Q2
    assert "too many YAML aliases" not in assert_clean_error(solve(runner, fewer))


def test_an_alias_inside_its_own_anchor_is_refused(runner, in_tmp):
    text = Q2.replace("inputs: {x1: 6, x2: 2, x3: 5}", "inputs: &i {x1: 6, x2: 2, x3: *i}")
    assert assert_clean_error(solve(runner, text)) == (
        "derive: error: spec.yaml:3: inputs.x3: YAML alias *i is inside the node it names "
        "(a cycle); write the value out\n")


def test_plain_aliases_still_work(runner, in_tmp):
    text = Q2.replace("weights: {x1: 0.42, x2: 0.72, x3: 0.21}", "weights: &w {x1: 0.42, x2: 0.72, x3: 0.21}") \
        .replace("weights: {x1: 0.11, x2: 0.30, x3: 0.65}", "weights: *w")
    step = key(runner, text)["steps"][0]
    assert step["forward"]["h1"] == step["forward"]["h2"]


def test_undefined_alias_is_a_located_yaml_error(runner, in_tmp):
    message = assert_clean_error(solve(runner, Q2.replace("x1: 6,", "x1: *nothing,")))
    assert message.startswith("derive: error: spec.yaml:3: YAML syntax error") and "nothing" in message


@pytest.mark.parametrize("depth", [19, 20])
def test_nesting_up_to_the_limit_is_read(runner, in_tmp, depth):
    # the file's mapping is level 1, so a title nested `depth` lists deep is level depth + 1
    text = Q2.replace('title: "Question 2"', "title: " + "[" * (depth - 1) + "x" + "]" * (depth - 1))
    assert assert_clean_error(solve(runner, text)) == \
        "derive: error: spec.yaml:2: title: expected text, found a list\n"


@pytest.mark.parametrize("value, line", [("[" * 20 + "x" + "]" * 20, 2), ("{a: " * 20 + "x" + "}" * 20, 2),
                                         ("\n  " + "- " * 20 + "x", 3)])  # `- - x` nests block lists
def test_nesting_past_the_limit_is_a_located_error(runner, in_tmp, value, line):
    message = assert_clean_error(solve(runner, Q2.replace('title: "Question 2"', "title: " + value)))
    assert message.startswith(f"derive: error: spec.yaml:{line}: title") and \
        "YAML nesting is too deep: more than 20 levels" in message, message


def test_very_deep_nesting_fails_fast(runner, in_tmp):
    solve(runner, Q2)
    start = time.perf_counter()
    message = assert_clean_error(solve(runner, "[" * 200_000 + "]" * 200_000))
    assert time.perf_counter() - start < 2.0
    assert message.startswith("derive: error: spec.yaml:1: ") and "too deep" in message


@pytest.mark.parametrize("text, line", [
    (Q2 + "loss: squared_error\n", 19),  # top level, block style
    (Q2.replace("x1: 6, x2: 2", "x1: 6, x1: 2"), 3),  # a flow mapping
    (Q2.replace("weights: {x1: 0.42, x2: 0.72", "weights: {x1: 0.42, x1: 0.72"), 7),  # weights
    (Q2.replace("  - activation: relu\n", "  - activation: relu\n    activation: relu\n"), 6),
])
def test_duplicate_keys_stay_an_error(runner, in_tmp, text, line):
    message = assert_clean_error(solve(runner, text))
    assert f"spec.yaml:{line}: " in message and "duplicate key (first given on line" in message


def test_hostile_keys_print_as_one_line_of_escapes(runner, in_tmp):
    """A key holding a newline, ESC (terminal control) or a bidi override cannot forge
    another message line or reach the terminal raw."""
    text = Q2 + '"evil\\nderive: error: forged\\x1b[2J\\u202e": 1\n'
    message = assert_clean_error(solve(runner, text))
    assert message == ("derive: error: spec.yaml:19: evil\\nderive: error: forged\\x1b[2J\\u202e: "
                       "unknown key (expected one of: " + message.split("expected one of: ")[1])
    assert message.count("\n") == 1


def test_a_long_key_is_cut_short_in_the_message(runner, in_tmp):
    # 1000 characters: YAML's limit for a plain key is 1024 (past it, a syntax error)
    message = assert_clean_error(solve(runner, Q2 + "k" * 1000 + ": 1\n"))
    assert f"spec.yaml:19: {'k' * 37}...: unknown key" in message and len(message) < 400, message


@pytest.mark.parametrize("escape, shown", [("\\ud83d\\ude00", "😀"), ("\\ud83d", None)])
def test_surrogate_escapes_in_a_title(runner, in_tmp, escape, shown):
    """"\\ud83d\\ude00" is how JSON escapes one emoji: joined. Half of one is no character."""
    text = Q2.replace('"Question 2"', f'"smile {escape}"')
    if shown:
        assert key(runner, text)["title"] == f"smile {shown}"
    else:
        for fmt in FORMATS:
            assert assert_clean_error(solve(runner, text, "-f", fmt)) == (
                "derive: error: spec.yaml:2: title: U+D83D is half of a UTF-16 surrogate pair, "
                "not a character; write the character itself\n")


@pytest.mark.parametrize("tagged", ["!!bool maybe", "!!timestamp nope", "!!int", "!!float", "!!bool",
                                    "!!int 0x", "!!binary '???'", "!!set x", "!!null 5"])
def test_explicit_tags_yaml_cannot_build_are_located_errors(runner, in_tmp, tagged):
    message = assert_clean_error(solve(runner, Q2.replace("x1: 6,", f"x1: {tagged} ,")))
    assert "spec.yaml:3: inputs.x1: expected a number" in message, message


# --- deterministic output ---------------------------------------------------------------

def render_all(folder: Path, seed: str) -> dict[str, bytes]:
    """Every problem in every format, by `derive` in a fresh interpreter with PYTHONHASHSEED=seed."""
    folder.mkdir()
    jobs = [[kind, str(problem), "-f", fmt, "-o", str(folder / f"{problem.stem}.{kind}.{fmt}")]
            for problem in PROBLEMS for kind in ("solve", "worksheet") for fmt in FORMATS
            if not (kind == "worksheet" and fmt == "json")]
    script = ("import sys\nfrom cli import main\n"
              "for argv in " + repr(jobs) + ":\n"
              "    try:\n        main(argv, prog_name='derive')\n"
              "    except SystemExit as exit:\n"
              "        if exit.code:\n            raise\n")
    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_output_is_byte_identical_across_runs_and_hash_seeds(tmp_path):
    assert PROBLEMS
    first = render_all(tmp_path / "first", "0")
    assert len(first) == len(PROBLEMS) * 5
    for run, seed in enumerate(["0", "1", "12345", "random"]):
        again = render_all(tmp_path / f"run{run}", seed)
        assert again.keys() == first.keys()
        differing = [name for name in first if again[name] != first[name]]
        assert differing == [], f"PYTHONHASHSEED={seed}: {differing}"


# --- numbers stay finite and right ----------------------------------------------------------

def one_neuron(activation: str, loss: str, w: float, y: float = 0.3) -> str:
    """x = 1, b = 0, so z = w: the output neuron's pre-activation is exactly the weight."""
    return f"""title: one saturated neuron
inputs: {{x: 1}}
layers:
  - activation: {activation}
    neurons:
      o: {{bias: 0, weights: {{x: {w}}}}}
targets: {{o: {y}}}
loss: {loss}
learning_rate: 0.1
"""


E1000 = math.exp(-745) * math.exp(-255)  # e^-1000 underflows a double: 0.0; kept for clarity
# (activation, loss, z, a, L, dL/dz) with y = 0.3 and x = 1, so dL/dw = dL/db = dL/dz.
#   sigmoid: a = 1/(1 + e^-z); at z = 1000, a = 1 - e^-1000 -> 1; at z = -1000, a = e^-1000 -> 0
#     half squared error: L = (y - a)^2 / 2; dL/dz = (a - y) a (1 - a) ~ (a - y) e^-1000 -> 0
#     cross-entropy:      L = -y log a - (1 - y) log(1 - a); dL/dz = a - y (the terms cancel)
#       z = 1000:  L = 0.3 log(1 + e^-1000) + 0.7 (1000 + log(1 + e^-1000)) = 700
#       z = -1000: L = 0.3 (1000 + log(1 + e^-1000)) + 0.7 log(1 + e^-1000) = 300
#   tanh: a = +-1 - O(e^-2000); L = (0.3 -+ 1)^2 / 2; dL/dz = (a - y)(1 - a^2) ~ 4 e^-2000 -> 0
#   softplus: a = log(1 + e^z): 1000 + log(1 + e^-1000) = 1000 at z = 1000, e^-1000 at -1000;
#     half squared error: dL/dz = (a - y) sigmoid(z): 999.7 at z = 1000, ~ -0.3 e^-1000 at -1000
#     cross-entropy at z = -1000: a ~ e^-1000 is inside (0, 1); L = -0.3 log a - 0.7 log(1 - a)
#       = 300; dL/dz = (-y/a + (1 - y)/(1 - a)) sigmoid(z) = -0.3 (sigmoid(z)/a -> 1) = -0.3
SATURATED = [
    ("sigmoid", "half_squared_error", 1000, 1.0, 0.245, 0.0),
    ("sigmoid", "half_squared_error", -1000, 0.0, 0.045, 0.0),
    ("sigmoid", "binary_cross_entropy", 1000, 1.0, 700.0, 0.7),
    ("sigmoid", "binary_cross_entropy", -1000, 0.0, 300.0, -0.3),
    ("tanh", "half_squared_error", 1000, 1.0, 0.245, 0.0),
    ("tanh", "half_squared_error", -1000, -1.0, 0.845, 0.0),
    ("softplus", "half_squared_error", 1000, 1000.0, 999.7 ** 2 / 2, 999.7),
    ("softplus", "half_squared_error", -1000, 0.0, 0.045, 0.0),
    ("softplus", "binary_cross_entropy", -1000, 0.0, 300.0, -0.3),
]
NOT_FINITE = re.compile(r"\bnan\b|\binf\b|\binfinity\b|\\infty|\bNaN\b|\bzoo\b", re.IGNORECASE)


@pytest.mark.parametrize("activation, loss, z, a, loss_value, gradient", SATURATED,
                         ids=[f"{s[0]}-{s[1]}-{s[2]}" for s in SATURATED])
@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_saturated_units_print_finite_documents(runner, in_tmp, fmt, activation, loss, z, a,
                                                loss_value, gradient):
    document = assert_ok(solve(runner, one_neuron(activation, loss, z), "-f", fmt))
    assert not NOT_FINITE.search(document), NOT_FINITE.search(document)


@pytest.mark.parametrize("activation, loss, z, a, loss_value, gradient", SATURATED,
                         ids=[f"{s[0]}-{s[1]}-{s[2]}" for s in SATURATED])
def test_saturated_units_give_the_closed_form_values(runner, in_tmp, activation, loss, z, a,
                                                     loss_value, gradient):
    text = assert_ok(solve(runner, one_neuron(activation, loss, z), "-f", "json"))
    assert not NOT_FINITE.search(text)
    step = json.loads(text, parse_constant=refuse)["steps"][0]
    assert step["forward"]["o"]["z"] == z
    assert step["forward"]["o"]["a"] == pytest.approx(a, rel=1e-15, abs=1e-300)
    assert step["loss"] == pytest.approx(loss_value, rel=1e-12)
    for parameter in step["parameters"]:
        assert parameter["gradient"] == pytest.approx(gradient, rel=1e-12, abs=1e-300), parameter
        assert parameter["updated"] == pytest.approx(parameter["value"] - 0.1 * gradient, rel=1e-12,
                                                     abs=1e-300)


def test_cross_entropy_of_an_output_outside_0_1_is_an_error_naming_the_neuron(runner, in_tmp):
    # a linear output of 1.5: log(1 - 1.5) has no real value
    text = one_neuron("linear", "binary_cross_entropy", 1.5, y=1)
    for fmt in FORMATS:
        message = assert_clean_error(solve(runner, text, "-f", fmt))
        assert "output 'o'" in message and "1.5" in message, message


RELU_AT_ZERO = """title: ReLU exactly at z = 0
inputs: {x: 1}
layers:
  - activation: relu
    neurons:
      h: {bias: -0.5, weights: {x: 0.5}}
  - activation: linear
    neurons:
      o: {bias: 0.1, weights: {h: 2}}
targets: {o: 1}
loss: half_squared_error
learning_rate: 0.1
"""


def test_relu_derivative_at_zero_is_zero(runner, in_tmp):
    # z_h = 0.5 * 1 - 0.5 = 0 exactly; a_h = 0; z_o = 2 * 0 + 0.1; dL/dz_o = 0.1 - 1 = -0.9.
    # With ReLU'(0) = 0 (docs/spec.md): dL/dw(x->h) = -0.9 * 2 * 0 * 1 = 0, dL/db_h = 0
    # (with ReLU'(0) = 1 they would be -1.8); dL/dw(h->o) = -0.9 * a_h = 0; dL/db_o = -0.9.
    assert "also at $z = 0$" in (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    step = key(runner, RELU_AT_ZERO)["steps"][0]
    assert step["forward"]["h"] == {"z": 0.0, "a": 0.0}
    gradients = {(p.get("from"), p.get("to"), p.get("neuron")): p["gradient"] for p in step["parameters"]}
    assert gradients == {("x", "h", None): 0.0, (None, None, "h"): 0.0, ("h", "o", None): 0.0,
                         (None, None, "o"): pytest.approx(-0.9)}
    markdown = assert_ok(solve(runner, RELU_AT_ZERO))
    assert "The derivative of ReLU is 0 at $z_{1}^{(1)} = 0" in markdown


@pytest.mark.parametrize("value", ["1e300", "-1e300", "1.7976931348623157e308", "1e200", "1e20", "1e9"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_huge_weights_give_finite_output_or_a_clean_error(runner, in_tmp, value, fmt):
    result = solve(runner, Q2.replace("x1: 0.42", f"x1: {value}"), "-f", fmt)
    if result.exit_code == 0:
        assert not NOT_FINITE.search(result.stdout)
        if fmt == "json":
            json.loads(result.stdout, parse_constant=refuse)
    else:
        assert_clean_error(result)


@pytest.mark.parametrize("value", ["1e-320", "5e-324", "-1e-300"])
def test_tiny_weights_are_read_and_printed(runner, in_tmp, value):
    step = key(runner, Q2.replace("x1: 0.42", f"x1: {value}"))["steps"][0]
    weight = next(p for p in step["parameters"] if p.get("from") == "x1" and p.get("to") == "h1")
    assert weight["value"] == float(value)
    for fmt in ("md", "tex"):
        assert not NOT_FINITE.search(assert_ok(solve(runner, Q2.replace("x1: 0.42", f"x1: {value}"),
                                                     "-f", fmt)))
