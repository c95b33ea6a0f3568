"""A symbol as plain Unicode text, for places that show no math (the Mermaid diagram).

Custom symbols (notation.names) use a small LaTeX grammar (derive.spec.symbol_form):
letters, digits, `_` and `^` with one item or a {group}, primes, and the accents \\hat,
\\tilde, \\bar. Written out here: scripts as Unicode sub- and superscripts where every
character has one (h_{1} -> h₁, w^{(2)} -> w⁽²⁾), else as _(...) / ^(...); accents as
combining marks (\\hat{y} -> ŷ, composed where Unicode can); primes as ′. Nothing of the LaTeX is left.
"""
from __future__ import annotations

import unicodedata

SUBSCRIPT = dict(zip("0123456789+-=()aehijklmnoprstuvx",
                     "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
SUPERSCRIPT = dict(zip("0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW",
                       "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ"))
ACCENTS = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304"}  # combining marks


def symbol_text(latex: str) -> str:
    """`latex` (a symbol of derive's grammar) as plain Unicode text; a letter with an
    accent as one character where Unicode has it (ŷ), so that every font shows it."""
    text, _ = items(latex, 0, closing=False)
    return unicodedata.normalize("NFC", text)


def items(latex: str, i: int, closing: bool) -> tuple[str, int]:
    """The text of everything from `i` to the end (or to the `}` closing a group)."""
    out = []
    while i < len(latex):
        ch = latex[i]
        if ch == "}" and closing:
            return "".join(out), i + 1
        if ch in "_^":
            script, i = item(latex, i + 1)
            out.append(scripted(script, SUBSCRIPT if ch == "_" else SUPERSCRIPT, ch))
        elif ch == "'":
            out.append("′")
            i += 1
        else:
            text, i = item(latex, i)
            out.append(text)
    return "".join(out), i


def item(latex: str, i: int) -> tuple[str, int]:
    """One item at `i`: a {group}, an accent with its argument, or one character."""
    if i >= len(latex):
        return "", i
    if latex[i] == "{":
        return items(latex, i + 1, closing=True)
    if latex[i] == "\\":
        name = next((n for n in ACCENTS if latex.startswith(n, i + 1)), None)
        if name is not None:
            base, end = item(latex, i + 1 + len(name))
            return accented(base, ACCENTS[name]), end
        return "\\", i + 1  # not in the grammar; kept as it is rather than lost
    return latex[i], i + 1


def accented(base: str, mark: str) -> str:
    """The combining mark after the first character (ŷ), or the base in parentheses
    with the mark after it where the base is longer."""
    if len(base) == 1:
        return base + mark
    return f"({base}){mark}" if base else mark


def scripted(script: str, table: dict[str, str], sign: str) -> str:
    if script and all(ch in table for ch in script):
        return "".join(table[ch] for ch in script)
    return f"{sign}{script}" if len(script) == 1 else f"{sign}({script})"
