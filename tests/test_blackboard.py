"""blackboard.txt: a Blackboard question upload file, one FIB_PLUS question per variant.

The file is parsed here by the published rules of Blackboard's upload format (Learn,
"Upload questions"): UTF-8 text, one question per line, no header and no blank lines,
fields separated by tabs, the first naming the type; FIB_PLUS is `FIB_PLUS, question
text, then per variable its name and its answers, variables separated by an empty
field`, at most 10 variables, each written [name] in the text. Its answers are
compared with answers.json of the same run.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import yaml

from test_canvas import exam30, make  # noqa: F401  (exam30: a fixture)
from test_canvas import every_value_in_tolerance, within

ROOT = Path(__file__).resolve().parent.parent
Q2_EXAM = ROOT / "problems" / "q2-exam.yaml"
TYPES = {"MC", "MA", "TF", "ESS", "ORD", "MAT", "FIB", "FIB_PLUS", "FIL", "NUM", "SR", "OP", "JUMBLED_SENTENCE", "QUIZ_BOWL"}


def parse_upload(data: bytes) -> list[tuple[str, str, list[tuple[str, list[str]]]]]:
    """(type, text, [(variable, answers)]) per line, by the format's rules; anything
    else fails."""
    text = data.decode("utf-8")  # strict: the file must be UTF-8
    assert text.endswith("\n") and "\r" not in text
    questions = []
    for line in text[:-1].split("\n"):
        assert line, "a blank line is an error in an upload file"
        fields = line.split("\t")
        kind, question, rest = fields[0], fields[1], fields[2:]
        assert kind in TYPES and kind == "FIB_PLUS", kind
        assert question.strip()
        variables: list[tuple[str, list[str]]] = []
        group: list[str] = []
        for value in rest + [""]:
            if value:
                group.append(value)
            else:
                assert len(group) >= 2, "a variable needs its name and at least one answer"
                variables.append((group[0], group[1:]))
                group = []
        assert 1 <= len(variables) <= 10
        names = [name for name, _ in variables]
        assert len(set(names)) == len(names) and all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in names)
        assert re.findall(r"\[([^\]]*)\]", question) == names  # each variable once, in order, no other [ ]
        questions.append((kind, question, variables))
    return questions


def variant_of(question: str) -> tuple[int, int, int]:
    found = re.match(r".*?, variant (\d+)(?:, part (\d+) of (\d+))?\. ", question)
    assert found, question[:80]
    return int(found[1]), int(found[2] or 1), int(found[3] or 1)


def check_answers(variables: list[tuple[str, list[str]]], expected: list[dict]) -> None:
    assert len(variables) == len(expected)
    for (name, texts), truth in zip(variables, expected):
        assert truth["shown"] in texts
        assert all(within(text, truth) for text in texts), (name, texts, truth)
        everything = every_value_in_tolerance(truth)
        if len(everything) <= 25:
            assert everything <= {Decimal(t) for t in texts}


def test_one_question_per_variant_with_its_answers_from_answers_json(exam30: Path) -> None:
    questions = parse_upload((exam30 / "blackboard.txt").read_bytes())
    answers = json.loads((exam30 / "answers.json").read_text(encoding="utf-8"))["variants"]
    assert [variant_of(q)[0] for _, q, _ in questions] == [v["variant"] for v in answers] == list(range(1, 31))
    for (_, question, variables), entry in zip(questions, answers):
        assert variant_of(question)[1:] == (1, 1)
        check_answers(variables, list(entry["answers"].values()))


def test_the_text_gives_the_variants_own_numbers_in_plain_text(exam30: Path) -> None:
    for _, question, _ in parse_upload((exam30 / "blackboard.txt").read_bytes()):
        number = variant_of(question)[0]
        spec = yaml.safe_load((exam30 / f"variant-{number:02d}" / "spec.yaml").read_text(encoding="utf-8"))
        given = dict(re.findall(r"\(([^()]+)\) = (-?[0-9.]+)", question))
        for name, value in spec["inputs"].items():
            assert float(given[name]) == value
        for layer in spec["layers"]:
            for neuron, body in layer["neurons"].items():
                for source, weight in body["weights"].items():
                    assert float(given[f"{source} \u2192 {neuron}"]) == weight
        assert f"\u03b7 = {spec['learning_rate']}" in question
        assert "\\" not in question and "{" not in question  # no LaTeX left for Blackboard to show raw
        assert "\u2202L/\u2202w\u2081\u2081\u207d\u00b3\u207e = [" in question  # ∂L/∂w₁₁⁽³⁾, the first asked


def test_a_variant_of_more_than_ten_answers_is_split_into_parts(tmp_path: Path) -> None:
    """Asking every parameter (q2's 12 weights and 5 biases) gives 1 + 2 x 17 = 35 answers:
    four questions of at most 10
    blanks, each with the variant's data, together holding every answer in order."""
    spec = tmp_path / "all.yaml"
    text = Q2_EXAM.read_text(encoding="utf-8")
    assert "\nasked: [g1->o, o, h1->g1, x1->h1]\n" in text
    spec.write_text(text.replace("\nasked: [g1->o, o, h1->g1, x1->h1]\n", "\n"), encoding="utf-8")
    out = tmp_path / "exam"
    make(out, spec, "-n", "2", "--seed", "3")
    questions = parse_upload((out / "blackboard.txt").read_bytes())
    answers = json.loads((out / "answers.json").read_text(encoding="utf-8"))["variants"]
    assert [variant_of(q) for _, q, _ in questions] == [(v, k, 4) for v in (1, 2) for k in range(1, 5)]
    for entry in answers:
        parts = [variables for _, q, variables in questions if variant_of(q)[0] == entry["variant"]]
        assert [len(p) for p in parts] == [10, 10, 10, 5]
        check_answers([v for part in parts for v in part], list(entry["answers"].values()))
        first = [q for _, q, _ in questions if variant_of(q)[0] == entry["variant"]]
        assert len({q.split(" Do one step")[0].split(". ", 1)[1] for q in first}) == 1  # the same data in each


def test_a_title_cannot_break_the_line_or_make_a_blank(tmp_path: Path) -> None:
    spec = tmp_path / "odd.yaml"
    spec.write_text(Q2_EXAM.read_text(encoding="utf-8").replace('title: "Question 2"',
                                                                'title: "Q2\\tpart [a] <b>bold</b>\\nnext"'),
                    encoding="utf-8")
    out = tmp_path / "exam"
    make(out, spec, "-n", "3")
    questions = parse_upload((out / "blackboard.txt").read_bytes())  # a tab or newline would break its fields
    assert len(questions) == 3
    assert all("<b>" not in q and "(a)" in q for _, q, _ in questions)


def test_a_cnn_exam_gives_its_images_and_kernels_and_no_stray_blank(tmp_path: Path) -> None:
    """Map entries are named with [row,col] in the spec: in the text they must not read as
    blanks; the input image and the kernels are given row by row."""
    out = tmp_path / "exam"
    make(out, ROOT / "problems" / "cnn-exam.yaml", "-n", "2")
    questions = parse_upload((out / "blackboard.txt").read_bytes())
    answers = json.loads((out / "answers.json").read_text(encoding="utf-8"))["variants"]
    for entry in answers:
        mine = [(q, variables) for _, q, variables in questions if variant_of(q)[0] == entry["variant"]]
        check_answers([v for _, variables in mine for v in variables], list(entry["answers"].values()))
        spec = yaml.safe_load((out / f"variant-{entry['variant']:02d}" / "spec.yaml").read_text(encoding="utf-8"))
        given = {"(c2 on x)": spec["layers"][0]["conv"]["c2"]["kernel"]["x"], "(x)": spec["inputs"]["x"]}
        for about, matrix in given.items():
            for q, _ in mine:
                found = re.search(re.escape(about) + r", by rows: ((?:\([^()]*\)(?:, )?)+)\.", q)
                assert found, about
                rows = [[float(v) for v in row.split()] for row in re.findall(r"\(([^()]*)\)", found[1])]
                assert rows == matrix
