"""The network diagram as an SVG image, for an LMS question (issue 12, item 7): the LaTeX
picture's own layout (derive.diagram: every unit, edge and label where the PDF puts
it), drawn with plain SVG shapes and text, so that the question shows the network its
numbers belong to without TeX on the LMS side.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

from .diagram import Box, Layout
from .escape import unicode_symbol
from .latex import format_number
from .document import Diagram

SCALE = 40.0  # pixels per centimetre of the LaTeX picture
MARGIN = 0.4  # cm around everything drawn


def diagram_svg(picture: Diagram) -> str:
    """A standalone SVG document of `picture`."""
    layout = picture.layout
    bounds = extent(layout)
    width, height = (bounds.x1 - bounds.x0) * SCALE, (bounds.y1 - bounds.y0) * SCALE

    def at(x: float, y: float) -> str:  # TikZ's y grows upwards, SVG's downwards
        return f"{(x - bounds.x0) * SCALE:.1f},{(bounds.y1 - y) * SCALE:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="serif">',
             '<defs><marker id="head" markerWidth="8" markerHeight="6" refX="8" refY="3" orient="auto">'
             '<path d="M0,0 L8,3 L0,6 z"/></marker></defs>']
    for link, edge in zip(layout.links, picture.edges):
        points = " ".join(at(x, y) for x, y in link.path)
        parts.append(f'<polyline points="{points}" fill="none" stroke="black" stroke-width="1" '
                     'marker-end="url(#head)"/>')
    for link, edge in zip(layout.links, picture.edges):
        if link.label is not None and edge.value is not None:
            parts.append(label(link.label, plain(edge.value), 9, at, background=True))
    for place, node in zip(layout.units, picture.nodes):
        x, y = at(place.x, place.y).split(",")
        if place.round:
            parts.append(f'<circle cx="{x}" cy="{y}" r="{place.rx * SCALE:.1f}" fill="white" stroke="black"/>')
        else:
            parts.append(f'<rect x="{float(x) - place.rx * SCALE:.1f}" y="{float(y) - place.ry * SCALE:.1f}" '
                         f'width="{2 * place.rx * SCALE:.1f}" height="{2 * place.ry * SCALE:.1f}" rx="4" '
                         'fill="white" stroke="black"/>')
        parts.append(f'<text x="{x}" y="{y}" font-size="13" text-anchor="middle" dominant-baseline="central">'
                     f'{escape(unicode_symbol(node.symbol))}</text>')
        if place.label is not None:
            text = plain(node.bias) if node.kind == "neuron" and node.bias is not None else None
            shown = (f"b = {text}" if text is not None else
                     plain(node.value) if node.kind == "input" and node.value is not None else node.kind)
            parts.append(label(place.label, shown, 10, at))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def label(box: Box, text: str, size: int, at, background: bool = False) -> str:  # type: ignore[no-untyped-def]
    x, y = at(box.x, box.y).split(",")
    back = ""
    if background:  # as the PDF's white-filled weight labels: the edge does not run through the text
        x0, y1 = at(box.x0, box.y0).split(",")
        x1, y0 = at(box.x1, box.y1).split(",")
        back = (f'<rect x="{x0}" y="{y0}" width="{float(x1) - float(x0):.1f}" '
                f'height="{float(y1) - float(y0):.1f}" fill="white"/>')
    return (f'{back}<text x="{x}" y="{y}" font-size="{size}" text-anchor="middle" '
            f'dominant-baseline="central">{escape(text)}</text>')


def plain(value: object) -> str:
    """A number as the PDF's labels print it, with a real minus sign."""
    return format_number(value, 4).text.replace("-", "\u2212")


def extent(layout: Layout) -> Box:
    """Everything drawn, with a margin."""
    xs: list[float] = []
    ys: list[float] = []
    for place in layout.units:
        xs += [place.x - place.rx, place.x + place.rx]
        ys += [place.y - place.ry, place.y + place.ry]
        if place.label is not None:
            xs += [place.label.x0, place.label.x1]
            ys += [place.label.y0, place.label.y1]
    for link in layout.links:
        xs += [x for x, _ in link.path]
        ys += [y for _, y in link.path]
        if link.label is not None:
            xs += [link.label.x0, link.label.x1]
            ys += [link.label.y0, link.label.y1]
    return Box(min(xs) - MARGIN, min(ys) - MARGIN, max(xs) + MARGIN, max(ys) + MARGIN)
