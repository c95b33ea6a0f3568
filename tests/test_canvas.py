"""canvas-qti.zip: a QTI 1.2 package Canvas imports as one quiz, one whole variant per student.

The assessment is validated against the IMS QTI ASI 1.2.1 DTD (tests/qti, with lxml);
the manifest is checked against the IMS Content Packaging structure and what Canvas's
importer reads of it; every blank's accepted answers are checked against answers.json
of the same run (numbers, tolerances, variant numbers), the given values against each
variant's spec.yaml.
"""
from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ElementTree
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree  # a missing validator fails the tests rather than skipping them

from cli import main
from derive.exam import answer
from derive.lms import MAX_ACCEPTED, accepted_answers

ROOT = Path(__file__).resolve().parent.parent
Q2_EXAM = ROOT / "problems" / "q2-exam.yaml"
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imscp_v1p1}"
DTD_FILE = ROOT / "tests" / "qti" / "ims_qtiasiv1p2p1.dtd"


def make(folder: Path, spec: Path = Q2_EXAM, *options: str) -> None:
    result = CliRunner().invoke(main, ["exam", str(spec), "-o", str(folder), "-q", "--no-pdf", *options])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def exam30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("canvas") / "exam"
    make(folder, Q2_EXAM, "--variants", "30", "--seed", "2026")
    return folder


def package(folder: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO((folder / "canvas-qti.zip").read_bytes()))


def assessment_name(archive: zipfile.ZipFile) -> str:
    manifest = ElementTree.fromstring(archive.read("imsmanifest.xml"))
    [resource] = [r for r in manifest.iter(f"{CP}resource") if r.get("type") == "imsqti_xmlv1p2"]
    return resource.get("href", "")


def qti_dtd() -> etree.DTD:
    """The vendored DTD with the declarations tests/qti/README.md explains."""
    text = DTD_FILE.read_text(encoding="utf-8").split("?>", 1)[1]  # less its text declaration
    selection = ("<!ELEMENT selection (sourcebank_ref? , selection_number? , selection_metadata? , "
                 "(and_selection | or_selection | not_selection)?)>")
    assert selection in text
    text = text.replace(selection, selection.replace("not_selection)?", "not_selection | selection_extension)?"))
    text += ('\n<!ELEMENT selection_extension ANY>\n<!ELEMENT points_per_item (#PCDATA)>\n'
             '<!ATTLIST questestinterop xmlns CDATA #FIXED "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"\n'
             '  xmlns:xsi CDATA #IMPLIED xsi:schemaLocation CDATA #IMPLIED>\n')
    return etree.DTD(io.StringIO(text))


def assessment_root(folder: Path) -> ElementTree.Element:
    archive = package(folder)
    return ElementTree.fromstring(archive.read(assessment_name(archive)))


# --- the QTI structure -------------------------------------------------------------------

def test_assessment_is_valid_qti_1_2_1(exam30: Path) -> None:
    archive = package(exam30)
    document = etree.fromstring(archive.read(assessment_name(archive)))
    dtd = qti_dtd()
    assert dtd.validate(document), dtd.error_log.filter_from_errors()


def test_the_validator_rejects_what_qti_does_not_allow(exam30: Path) -> None:
    """The DTD check can fail: a blank without its choices, an unknown element."""
    archive = package(exam30)
    dtd = qti_dtd()
    broken = etree.fromstring(archive.read(assessment_name(archive)))
    response = broken.find(f".//{QTI}response_lid")
    response.remove(response.find(f"{QTI}render_choice"))
    assert not dtd.validate(broken)
    stray = etree.fromstring(archive.read(assessment_name(archive)))
    etree.SubElement(stray.find(f".//{QTI}item"), f"{QTI}numeric_tolerance")
    assert not dtd.validate(stray)


def test_one_group_gives_each_student_one_whole_variant(exam30: Path) -> None:
    """Canvas: a <section> with selection_number 1 inside the root section is a question
    group picking one question (lib/cc/qti/qti_generator.rb add_group); each question is
    a fill_in_multiple_blanks_question holding every answer of its variant."""
    root = assessment_root(exam30)
    [assessment] = root.findall(f"{QTI}assessment")
    [top] = assessment.findall(f"{QTI}section")
    [group] = top.findall(f"{QTI}section")
    assert group.findtext(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number") == "1"
    items = group.findall(f"{QTI}item")
    assert [item_variant(item) for item in items] == list(range(1, 31))
    answers = json.loads((exam30 / "answers.json").read_text(encoding="utf-8"))["variants"]
    asked = len(answers[0]["answers"])
    points = group.findtext(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_extension/{QTI}points_per_item")
    assert float(points) == asked
    for item in items:
        fields = {f.findtext(f"{QTI}fieldlabel"): f.findtext(f"{QTI}fieldentry")
                  for f in item.iter(f"{QTI}qtimetadatafield")}
        assert fields == {"question_type": "fill_in_multiple_blanks_question", "points_possible": str(float(asked))}
    assert len({item.get("ident") for item in items}) == 30


def item_variant(item: ElementTree.Element) -> int:
    found = re.fullmatch(r".* - variant (\d+)", item.get("title", ""))
    assert found, item.get("title")
    return int(found[1])


def blanks(item: ElementTree.Element) -> dict[str, list[str]]:
    """Each blank's accepted answers, by blank name (response_<name>, as Canvas reads it)."""
    found = {}
    for response in item.iter(f"{QTI}response_lid"):
        name = response.get("ident", "")
        assert name.startswith("response_")
        assert response.findtext(f"{QTI}material/{QTI}mattext") == name[len("response_"):]
        found[name[len("response_"):]] = [label.findtext(f"{QTI}material/{QTI}mattext", "")
                                          for label in response.iter(f"{QTI}response_label")]
    return found


def within(text: str, entry: dict) -> bool:
    """Whether a typed answer is right by answers.json: within the tolerance of the key."""
    return abs(Decimal(text) - Decimal(repr(entry["key"]))) <= Decimal(repr(entry["tolerance"])) * (1 + Decimal("1e-12"))


def every_value_in_tolerance(entry: dict) -> set[Decimal]:
    """All numbers at the key's shown decimals within the tolerance, from answers.json alone."""
    unit = Decimal(1).scaleb(Decimal(entry["shown"]).as_tuple().exponent)
    key, tolerance = Decimal(repr(entry["key"])), Decimal(repr(entry["tolerance"]))
    k = ((key - tolerance) / unit).to_integral_value(rounding="ROUND_CEILING")
    found = set()
    while k * unit <= key + tolerance:
        found.add((k * unit).quantize(unit))
        k += 1
    return found


def check_blanks_against_answers_json(item: ElementTree.Element, entry: dict) -> None:
    accepted = blanks(item)
    expected = list(entry["answers"].values())
    assert len(accepted) == len(expected)
    for (name, texts), truth in zip(accepted.items(), expected):
        assert truth["shown"] in texts  # the key as the answer key prints it
        assert all(within(text, truth) for text in texts), (name, texts, truth)
        values = {Decimal(text) for text in texts}
        everything = every_value_in_tolerance(truth)
        if len(everything) <= MAX_ACCEPTED:
            assert everything <= values  # nothing the exam accepts is refused
        else:  # the nearest MAX_ACCEPTED, symmetric about the key
            assert len(values) == MAX_ACCEPTED
            assert max(abs(v - Decimal(truth["shown"])) for v in values) <= \
                min(abs(v - Decimal(truth["shown"])) for v in everything - values)
        for text in texts:  # a leading zero may be left out, nothing else differs
            assert re.fullmatch(r"-?(?:0|[1-9][0-9]*)?\.?[0-9]*(?:[eE]-?[0-9]+)?", text), text


def test_every_variants_blanks_hold_its_answers_from_answers_json(exam30: Path) -> None:
    root = assessment_root(exam30)
    answers = {v["variant"]: v for v in json.loads((exam30 / "answers.json").read_text(encoding="utf-8"))["variants"]}
    items = list(root.iter(f"{QTI}item"))
    assert sorted(item_variant(i) for i in items) == sorted(answers)
    for item in items:
        check_blanks_against_answers_json(item, answers[item_variant(item)])
        text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext", "")
        assert re.findall(r"\[([A-Za-z0-9_]+)\]", text) == list(blanks(item))  # a blank per answer, in order


def test_scoring_gives_each_blank_an_equal_share_for_any_accepted_answer(exam30: Path) -> None:
    for item in assessment_root(exam30).iter(f"{QTI}item"):
        accepted = blanks(item)
        labels = {r.get("ident"): {label.get("ident") for label in r.iter(f"{QTI}response_label")}
                  for r in item.iter(f"{QTI}response_lid")}
        conditions = item.findall(f"{QTI}resprocessing/{QTI}respcondition")
        assert len(conditions) == len(accepted)
        total = 0.0
        for condition in conditions:
            tested = list(condition.iter(f"{QTI}varequal"))
            [response] = {v.get("respident") for v in tested}
            assert {v.text for v in tested} == labels[response]
            setvar = condition.find(f"{QTI}setvar")
            assert setvar.get("action") == "Add" and setvar.get("varname") == "SCORE"
            total += float(setvar.text)
        assert total == pytest.approx(100, abs=0.05)


def test_the_given_numbers_are_the_variants_own(exam30: Path) -> None:
    """The numbers a student is given come from the same draw as the answers: each item's
    table holds its variant's inputs and biases as spec.yaml has them."""
    for item in assessment_root(exam30).iter(f"{QTI}item"):
        number = item_variant(item)
        spec = yaml.safe_load((exam30 / f"variant-{number:02d}" / "spec.yaml").read_text(encoding="utf-8"))
        text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext", "")
        rows = {(name, float(value)) for name, value in
                re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td></tr>", text)}
        expected = {(name, value) for name, value in spec["inputs"].items()}
        for layer in spec["layers"]:
            for neuron, body in layer["neurons"].items():
                expected.add((neuron, body["bias"]))
                expected |= {(f"{source} \u2192 {neuron}", weight) for source, weight in body["weights"].items()}
        expected |= {(name, float(value)) for name, value in spec["targets"].items()}
        assert rows == expected
        assert f"variant {number}</strong>" in text
        assert "\\(" not in text and "\\partial" not in text  # no raw LaTeX for Canvas to show


def test_teacher_like_values_accept_the_numbers_a_student_would_type() -> None:
    """Hand-derived: key 0.25 shown as 0.2500, tolerance 0.00015 -> 0.2499 to 0.2501."""
    a = answer("loss", "L", 0.25, 0.25, 0.25, 4)._replace(tolerance=0.00015)
    assert set(accepted_answers(a, 4)) == {"0.2500", ".2500", "0.2499", ".2499", "0.2501", ".2501"}
    b = answer("grad b:o", r"\partial L / \partial b", -0.5, -0.5, -0.5, 4)
    assert accepted_answers(b, 4)[:2] == ("-0.5000", "-.5000")
    c = answer("updated b:o", "b", 12.34, 12.34, 12.34, 4)  # 12.3400, half a unit: only itself
    assert accepted_answers(c, 4) == ("12.3400",)
    small = answer("grad x1->h1", "w", 1.707e-5, 1.707e-5, 1.707e-5, 4)  # shown 1.707e-5
    assert set(accepted_answers(small, 4)) == {"0.00001707", ".00001707", "1.707e-5", "1.707E-5"}


def test_a_relative_tolerance_widens_the_accepted_answers(tmp_path: Path) -> None:
    spec = tmp_path / "marked.yaml"
    spec.write_text(Q2_EXAM.read_text(encoding="utf-8").replace(
        "max_tries: 1000}", "max_tries: 1000, relative_tolerance: 0.01, partial_credit: 50}"), encoding="utf-8")
    out = tmp_path / "exam"
    make(out, spec, "-n", "4", "--seed", "7")
    answers = {v["variant"]: v for v in json.loads((out / "answers.json").read_text(encoding="utf-8"))["variants"]}
    widths = []
    for item in assessment_root(out).iter(f"{QTI}item"):
        check_blanks_against_answers_json(item, answers[item_variant(item)])
        widths += [len(texts) for texts in blanks(item).values()]
    assert max(widths) > 6  # 1% of a value shown to 4 places spans many last digits


# --- the package -------------------------------------------------------------------------

def test_manifest_lists_exactly_the_packages_files(exam30: Path) -> None:
    """IMS CP 1.1: <manifest identifier> with <organizations/> and <resources>; each
    <resource> has an identifier and a type, each <file href> is in the zip, and every
    file of the zip is listed (Canvas's converter makes each listed file a course file).
    The assessment's type is Canvas's QTI-only export type (canvas-lms lib/cc/cc_helper.rb,
    QTI_ASSESSMENT_TYPE = "imsqti_xmlv1p2")."""
    archive = package(exam30)
    manifest = ElementTree.fromstring(archive.read("imsmanifest.xml"))
    assert manifest.tag == f"{CP}manifest" and manifest.get("identifier")
    assert [child.tag for child in manifest] == [f"{CP}metadata", f"{CP}organizations", f"{CP}resources"]
    resources = manifest.findall(f"{CP}resources/{CP}resource")
    assert len({r.get("identifier") for r in resources}) == len(resources)
    listed = []
    for resource in resources:
        assert resource.get("identifier") and resource.get("type") in ("imsqti_xmlv1p2", "webcontent")
        hrefs = [f.get("href") for f in resource.findall(f"{CP}file")]
        assert resource.get("href") in hrefs
        listed += hrefs
    assert sorted(listed) == sorted(set(archive.namelist()) - {"imsmanifest.xml"})
    assert sum(name.endswith(".svg") for name in listed) == 30


def test_each_question_shows_its_variants_diagram_from_the_package(exam30: Path) -> None:
    archive = package(exam30)
    for item in assessment_root(exam30).iter(f"{QTI}item"):
        text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext", "")
        [source] = re.findall(r'<img src="([^"]+)"', text)
        assert source in archive.namelist()
        svg = ElementTree.fromstring(archive.read(source))
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        # its labels are this variant's weights and biases (printed with a real minus sign)
        shown = {float(label.removeprefix("b = ").replace("\u2212", "-"))
                 for label in (t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
                 if re.fullmatch(r"(?:b = )?\u2212?[0-9.]+", label)}
        spec = yaml.safe_load((exam30 / f"variant-{item_variant(item):02d}" / "spec.yaml").read_text(encoding="utf-8"))
        for layer in spec["layers"]:
            for body in layer["neurons"].values():
                assert body["bias"] in shown and set(body["weights"].values()) <= shown


def test_the_zip_is_deterministic(exam30: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    make(again, Q2_EXAM, "--variants", "30", "--seed", "2026")
    assert (again / "canvas-qti.zip").read_bytes() == (exam30 / "canvas-qti.zip").read_bytes()
    archive = package(exam30)
    assert archive.namelist() == sorted(archive.namelist())
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert archive.testzip() is None


def test_the_exam_folder_still_refuses_foreign_files(exam30: Path, tmp_path: Path) -> None:
    folder = tmp_path / "exam"
    make(folder, Q2_EXAM, "-n", "2")
    make(folder, Q2_EXAM, "-n", "2", "--force")  # its own canvas-qti.zip and blackboard.txt are the exam's
    for foreign in ("canvas-qti.zip.bak", "answers.json~", "blackboard.txt.orig"):
        (folder / foreign).write_bytes(b"the teacher's")
        result = CliRunner().invoke(main, ["exam", str(Q2_EXAM), "-o", str(folder), "-q", "--no-pdf", "-n", "2",
                                           "--force"])
        assert result.exit_code == 2 and foreign in result.output, result.output
        assert (folder / foreign).read_bytes() == b"the teacher's"
        (folder / foreign).unlink()


def test_a_cnn_exam_is_valid_qti_with_its_answers(tmp_path: Path) -> None:
    """A network of maps: no diagram, the image and kernels as tables, entry answers."""
    out = tmp_path / "exam"
    make(out, ROOT / "problems" / "cnn-exam.yaml", "-n", "3")
    archive = package(out)
    dtd = qti_dtd()
    assert dtd.validate(etree.fromstring(archive.read(assessment_name(archive)))), dtd.error_log.filter_from_errors()
    assert not [name for name in archive.namelist() if name.endswith(".svg")]
    answers = {v["variant"]: v for v in json.loads((out / "answers.json").read_text(encoding="utf-8"))["variants"]}
    for item in assessment_root(out).iter(f"{QTI}item"):
        check_blanks_against_answers_json(item, answers[item_variant(item)])
        text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext", "")
        assert re.findall(r"\[([^\]]*)\]", text) == list(blanks(item))  # map entries are not taken for blanks
        spec = yaml.safe_load((out / f"variant-{item_variant(item):02d}" / "spec.yaml").read_text(encoding="utf-8"))
        image = "".join("<tr>" + "".join(f"<td>{v:g}</td>" for v in row) + "</tr>" for row in spec["inputs"]["x"])
        assert image in text


def test_an_odd_title_stays_text(tmp_path: Path) -> None:
    """Markup, brackets, a tab, a line break and a control character in the title: the
    XML stays valid and the title shows as text, with no blank made of it."""
    spec = tmp_path / "odd.yaml"
    spec.write_text(Q2_EXAM.read_text(encoding="utf-8").replace(
        'title: "Question 2"', 'title: "Q2 <script>x</script> & [a]\\tb\\nc\\a"'), encoding="utf-8")
    out = tmp_path / "exam"
    make(out, spec, "-n", "2")
    archive = package(out)
    document = etree.fromstring(archive.read(assessment_name(archive)))
    assert qti_dtd().validate(document)
    for item in assessment_root(out).iter(f"{QTI}item"):
        text = item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext", "")
        assert "<script>" not in text and "&lt;script&gt;" in text
        assert re.findall(r"\[([A-Za-z0-9_]+)\]", text) == list(blanks(item))
