"""Specs composed on libyaml's parser (derive.spec.documents.FastLoader, issue 16) give the
node tree PyYAML's pure-Python composer gives, and every bad file the same message."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from derive.errors import SpecError
from derive.spec import documents

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(ROOT.glob("problems/*.yaml")) + sorted(ROOT.glob("tests/**/*.yaml"))

# Teacher-written shapes and YAML corners: quoted and plain numbers, 1e-3, anchors and
# aliases, flow and block, folded and literal strings, comments, Unicode, empty values.
TEXTS = [
    "title: t\ninputs: {x1: 0.5, x2: '0.5', x3: \"1e-3\", x4: 1e-3, x5: .5, x6: -0}\n",
    "a: &w {x: 1, y: [1, 2.50, -0.0]}\nb: *w\nc: [*w, *w]\n",
    "title: |\n  two\n  lines\nnote: >\n  folded\n  text\n# a comment\nk: ~\nm:\nn: null\n",
    "layers:\n  - activation: sigmoid\n    neurons:\n      h1: {bias: 0.10, weights: {x1: 0.15}}  # c\n",
    "title: \"Übung 3 — σ′(z) ≤ 1\"\nlearning_rate: 0.5\nflags: [yes, no, on, off, true]\n",
    "? complex key\n: value\n'quoted key': 1\n\"double\": 2\n",
    "- 1\n- [2, [3, [4]]]\n- {a: {b: {c: d}}}\n",
    "x: 0x1F\ny: 0o17\nz: 1_000\nw: .inf\nv: -.Inf\nu: .nan\nt: 2001-12-14\n",
    "---\nafter: a document marker\n...\n",
    "%YAML 1.1\n---\nx: 1\n",
    "x: 'it''s'\ny: \"tab\\there\"\nz: plain text with:colon inside\n",
]

BAD = [
    "a: [1, 2\n",  # unclosed flow list
    "a: b: c\n",
    "a:\n\t- tab indent\n",
    "x: *missing\n",
    "a: &x [*x]\n",  # an alias inside the node it names
    "[" * 30 + "]" * 30 + "\n",  # deeper than MAX_DEPTH
    "k: \x07bell\n",  # a control character PyYAML's reader refuses
    "a: 1\na: 2\n- 3\n",
    "z: plain text with: colon inside\n",
    "",
    "---\n",
]


def tree(node: Node) -> tuple:
    """Everything derive reads of a node: kind, tag, value, style, where it starts and ends."""
    base = (type(node).__name__, node.tag, node.start_mark.line, node.start_mark.column,
            node.end_mark.line, node.end_mark.column, getattr(node, "style", None),
            getattr(node, "flow_style", None))
    if isinstance(node, ScalarNode):
        return base + (node.value,)
    if isinstance(node, SequenceNode):
        return base + tuple(tree(child) for child in node.value)
    assert isinstance(node, MappingNode)
    return base + tuple((tree(key), tree(value)) for key, value in node.value)


def aliases_shared(node: Node) -> list[bool]:
    """For each alias use, whether it is the very node it names (as PyYAML shares it)."""
    seen: dict[int, Node] = {}
    shared = []

    def walk(n: Node) -> None:
        if id(n) in seen:
            shared.append(True)
            return
        seen[id(n)] = n
        for child in documents.children(n):
            walk(child)
    walk(node)
    return shared


def test_libyaml_is_there() -> None:
    """Not a silent fallback: this PyYAML has libyaml, as pip's wheels do."""
    assert documents.FastLoader is not None


@pytest.mark.parametrize("text", [path.read_text(encoding="utf-8") for path in FILES] + TEXTS)
def test_both_loaders_compose_the_same_tree(text: str) -> None:
    slow = yaml.compose(text, Loader=documents.LimitedLoader)
    fast = yaml.compose(text, Loader=documents.FastLoader)
    assert tree(fast) == tree(slow)
    assert aliases_shared(fast) == aliases_shared(slow)


def test_every_problem_was_compared() -> None:
    assert len([p for p in FILES if p.parent.name == "problems"]) >= 30


@pytest.mark.parametrize("text", BAD)
def test_a_bad_file_reads_as_the_pure_python_composer_says(text: str) -> None:
    with pytest.raises(SpecError) as fast_error:
        documents.compose(text, "spec.yaml")
    try:
        root = yaml.compose(text, Loader=documents.LimitedLoader)
    except documents.LimitExceeded as err:
        assert err.message in str(fast_error.value)
        return
    except yaml.YAMLError as err:
        assert str(getattr(err, "problem", "") or "") in str(fast_error.value)
        return
    assert root is None or root.tag == documents.NULL_TAG  # the empty document
    assert "the file is empty" in str(fast_error.value)


def test_a_plain_scalar_has_no_style_either_way() -> None:
    """derive.spec.numbers tells an unquoted 1e-3 by style None."""
    fast = yaml.compose("a: 1e-3\nb: '1e-3'\n", Loader=documents.FastLoader)
    assert [value.style for _, value in fast.value] == [None, "'"]
