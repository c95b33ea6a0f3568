"""canvas-qti.zip: the exam as a Canvas Classic Quizzes QTI 1.2 package (issue 15, item 1).

One quiz with one question group that picks one question per student; each question
is a whole variant, so the numbers a student is given and the answers belong to the
same draw. Canvas's numerical_question holds one answer, and a group picks its
questions independently, so a variant of several answers cannot be several numerical
questions; it is one fill_in_multiple_blanks_question, the type that holds several
answers in one question. That type grades a blank by comparing the typed text with
its accepted answers (Canvas: Quizzes::QuizQuestion::FillInMultipleBlanksQuestion,
`matching_answer?`, strip + downcase), so each blank lists the numbers within the
exam's tolerance at the key's shown decimals (derive.lms). Canvas gives each blank an
equal share of the question's points.

The XML follows what Canvas's own QTI export writes for this type (canvas-lms
lib/cc/qti/qti_items.rb: question_type and points_possible in itemmetadata, a
response_lid per blank named response_<blank>, whose render_choice holds the
accepted answers; a group as a <section> with <selection_ordering>), which its
importer reads back (gems/plugins/qti_exporter/lib/qti/fill_in_the_blank.rb,
process_canvas: every choice of a fill_in_multiple_blanks_question is a correct
answer). docs/lms.md has the import steps and the limits.
"""
from __future__ import annotations

import hashlib
import html
import io
import xml.etree.ElementTree as ElementTree
import zipfile
from typing import TYPE_CHECKING, Iterator

from .lms import (accepted_answers, answer_label, blank_names, given_maps, given_values, loss_text,
                  network_text, task_text, user_text)
from .escape import xml_text

if TYPE_CHECKING:
    from .exam import Exam, Variant
    from .folder import FolderWriter

QTI_NAMESPACE = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
QTI_SCHEMA = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd"
CP_NAMESPACE = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_SCHEMA = "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: no build time in the bytes


def write_canvas(out: FolderWriter, exam: Exam, digits: int) -> None:
    """canvas-qti.zip in the exam folder."""
    out.add("canvas-qti.zip", canvas_package(exam, digits))


def canvas_package(exam: Exam, digits: int) -> bytes:
    """The zip: imsmanifest.xml, the assessment and each variant's network diagram.

    Written entry by entry, the assessment item by item, so that what it holds at once is
    one variant's question and the compressed zip, not the XML tree of every variant."""
    ident = exam_ident(exam)
    assessment = f"{ident}/{ident}.xml"
    images = {name: variant for variant in exam.variants if (name := diagram_file(variant))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted([assessment, "imsmanifest.xml", *images]):
            with archive.open(zip_entry(name), "w") as entry:
                if name == assessment:
                    for piece in assessment_pieces(exam, ident, digits):
                        entry.write(piece)
                elif name == "imsmanifest.xml":
                    entry.write(xml_document(manifest_xml(ident, assessment, sorted(images))))
                else:
                    entry.write(svg_bytes(images[name]))
    return buffer.getvalue()


def exam_ident(exam: Exam) -> str:
    """The same for the same exam (title and seed), so that importing it again updates the
    quiz; different for another exam in the same course."""
    digest = hashlib.sha256(f"{exam.title}\0{exam.seed}".encode("utf-8")).hexdigest()[:16]
    return f"derive_{digest}"


def diagram_file(variant: Variant) -> str | None:
    return f"images/variant-{variant.number:04d}.svg" if variant.solution.given.diagram else None


def svg_bytes(variant: Variant) -> bytes:
    from .svg import diagram_svg
    return diagram_svg(variant.solution.given.diagram).encode("utf-8")  # type: ignore[arg-type]


# --- the assessment ------------------------------------------------------------------------

ITEMS = "variant-items"  # where the items go in the assessment's skeleton


def assessment_pieces(exam: Exam, ident: str, digits: int) -> Iterator[bytes]:
    """The assessment XML in pieces: the skeleton up to the question group's items, each
    item (made, written and dropped in turn), the rest."""
    title = user_text(exam.title)
    skeleton = xml_document(assessment_skeleton(exam, ident, title))
    if not exam.variants:
        yield skeleton
        return
    head, tail = skeleton.split(f"<{ITEMS} />".encode())
    yield head
    for number, variant in enumerate(exam.variants):
        item = variant_item(title, ident, variant, digits)
        ElementTree.indent(item, level=4)
        # serialised as text, then encoded: the same bytes as encoding="utf-8" gives (no
        # declaration on an element), without a codec write per piece of markup
        yield (b"\n" + b"  " * 4 if number else b"") + ElementTree.tostring(item, encoding="unicode").encode("utf-8")
    yield tail


def assessment_skeleton(exam: Exam, ident: str, title: str) -> ElementTree.Element:
    """The quiz and its one question group (pick one variant per student), with a marker
    where the variants' items go."""
    root = ElementTree.Element("questestinterop", {
        "xmlns": QTI_NAMESPACE, "xmlns:xsi": XSI, "xsi:schemaLocation": f"{QTI_NAMESPACE} {QTI_SCHEMA}"})
    assessment = sub(root, "assessment", ident=ident, title=title)
    metadata(sub(assessment, "qtimetadata"), [("cc_maxattempts", "1")])
    top = sub(assessment, "section", ident="root_section")
    group = sub(top, "section", ident=f"{ident}_variants", title=f"{title}: one variant per student")
    points = len(exam.variants[0].answers) if exam.variants else 0
    selection = sub(sub(group, "selection_ordering"), "selection")
    sub(selection, "selection_number").text = "1"
    sub(sub(selection, "selection_extension"), "points_per_item").text = str(float(points))
    if exam.variants:
        sub(group, ITEMS)
    return root


def variant_item(title: str, ident: str, variant: Variant, digits: int) -> ElementTree.Element:
    """One fill_in_multiple_blanks_question: the variant's given values and a blank per answer."""
    names = blank_names(variant.answers)
    item = ElementTree.Element("item", ident=f"{ident}_v{variant.number}", title=f"{title} - variant {variant.number}")
    metadata(sub(sub(item, "itemmetadata"), "qtimetadata"), [
        ("question_type", "fill_in_multiple_blanks_question"),
        ("points_possible", str(float(len(names))))])
    presentation = sub(item, "presentation")
    text = sub(sub(presentation, "material"), "mattext", texttype="text/html")
    text.text = question_html(title, variant, names, digits)
    for number, (name, answer) in enumerate(zip(names, variant.answers), 1):
        response = sub(presentation, "response_lid", ident=f"response_{name}")
        sub(sub(response, "material"), "mattext").text = name
        choices = sub(response, "render_choice")
        for k, accepted in enumerate(accepted_answers(answer, digits), 1):
            label = sub(choices, "response_label", ident=f"{ident}_v{variant.number}_{number}_{k}")
            sub(sub(label, "material"), "mattext", texttype="text/plain").text = accepted
    scoring(sub(item, "resprocessing"), item, names)
    return item


def scoring(processing: ElementTree.Element, item: ElementTree.Element, names: list[str]) -> None:
    """SCORE 0-100, an equal share per blank whose response is any of its accepted answers
    (as Canvas's export scores this type, with every accepted answer rather than one)."""
    sub(sub(processing, "outcomes"), "decvar", maxvalue="100", minvalue="0", varname="SCORE", vartype="Decimal")
    share = f"{100 / len(names):.2f}" if names else "0"
    for name, response in zip(names, item.iter("response_lid")):
        condition = sub(processing, "respcondition", attrib={"continue": "Yes"})
        test = sub(condition, "conditionvar")
        labels = [label.get("ident", "") for label in response.iter("response_label")]
        if len(labels) > 1:
            test = sub(test, "or")
        for label in labels:
            sub(test, "varequal", respident=f"response_{name}").text = label
        sub(condition, "setvar", varname="SCORE", action="Add").text = share


def question_html(title: str, variant: Variant, names: list[str], digits: int) -> str:
    """The question's text: the variant's network and values, then a line per blank. Math
    is plain Unicode (w₁₁⁽¹⁾): Canvas does not promise to render LaTeX in imported text."""
    given = variant.solution.given
    lines = [f"<div><p><strong>{xml_text(title)}, variant {variant.number}</strong></p>"]
    svg = diagram_file(variant)
    if svg:
        lines.append(f'<p><img src="{svg}" alt="The network, with its inputs, weights and biases"></p>')
    lines.append(f"<p>{esc(network_text(given))}</p>")
    lines.append('<table border="1" cellpadding="4"><tr><th>quantity</th><th>name</th><th>value</th></tr>')
    for symbol, name, value in given_values(given, digits):
        lines.append(f"<tr><td>{esc(symbol)}</td><td>{xml_text(name)}</td><td>{esc(value)}</td></tr>")
    lines.append("</table>")
    for label, rows in given_maps(given, digits):
        lines.append(f'<p>{esc(label)}:</p><table border="1" cellpadding="4">'
                     + "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
                     + "</table>")
    lines.append(f"<p>{esc(loss_text(given, digits))}</p>")
    lines.append(f"<p>{esc(task_text(digits))}</p>")
    for name, answer in zip(names, variant.answers):
        lines.append(f"<p>{esc(answer_label(answer))} = [{name}]</p>")
    lines.append("</div>")
    return "\n".join(lines)


def esc(text: str) -> str:
    return html.escape(text, quote=True)



# --- the package ---------------------------------------------------------------------------

def manifest_xml(ident: str, assessment: str, images: list[str]) -> ElementTree.Element:
    """IMS Content Packaging 1.1: the assessment as a QTI resource, the diagrams as web
    content (Canvas's importer makes every listed file a course file and links the
    question's <img> to it by its path)."""
    root = ElementTree.Element("manifest", {
        "identifier": f"{ident}_manifest", "xmlns": CP_NAMESPACE, "xmlns:xsi": XSI,
        "xsi:schemaLocation": f"{CP_NAMESPACE} {CP_SCHEMA}"})
    schema = sub(root, "metadata")
    sub(schema, "schema").text = "IMS Content"
    sub(schema, "schemaversion").text = "1.1.3"
    sub(root, "organizations")
    resources = sub(root, "resources")
    resource = sub(resources, "resource", identifier=ident, type="imsqti_xmlv1p2", href=assessment)
    sub(resource, "file", href=assessment)
    if images:
        files = sub(resources, "resource", identifier=f"{ident}_images", type="webcontent", href=images[0])
        for image in images:
            sub(files, "file", href=image)
    return root


def metadata(parent: ElementTree.Element, fields: list[tuple[str, str]]) -> None:
    for label, entry in fields:
        field = sub(parent, "qtimetadatafield")
        sub(field, "fieldlabel").text = label
        sub(field, "fieldentry").text = entry


def sub(parent: ElementTree.Element, tag: str, attrib: dict[str, str] | None = None,
        **attributes: str) -> ElementTree.Element:
    return ElementTree.SubElement(parent, tag, {**(attrib or {}), **attributes})


def xml_document(root: ElementTree.Element) -> bytes:
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def zip_entry(name: str) -> zipfile.ZipInfo:
    """A zip entry whose bytes depend only on its name and content: a fixed time and mode."""
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # Unix, whatever system made it
    return info
