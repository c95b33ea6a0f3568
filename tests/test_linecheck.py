"""The line checker of tests/linecheck.py checked on lines written by hand.

Right lines pass and wrong ones fail, under both policies; every number syntax and
function the keys use is read; a line the checker cannot read is reported, not skipped.
"""
from __future__ import annotations

from fractions import Fraction

import pytest

from linecheck import check_line, check_markdown, parse, round_half_away, tokenize


def ok(latex: str, policy: str) -> bool:
    """The line has at least one check, and every check passes."""
    rep = check_line(latex, policy)
    assert not rep.unparsed, rep.message()
    assert rep.checks, f"no numeric line found in {latex}"
    return not rep.failures


def block(*rows: str) -> str:
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}\n$$\n"


# numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value, ulp, sig", [
    ("0.0500", "0.05", "0.0001", 3),
    ("1.707 \\times 10^{-5}", "0.00001707", "0.00000001", 4),
    ("6", "6", "1", 1),
    ("0.0002", "0.0002", "0.0001", 1),
    ("5.02", "5.02", "0.01", 3),
    ("3.4 \\times 10^{-6}", "0.0000034", "0.0000001", 2),
])
def test_a_number_shows_its_value_and_its_last_digit(text: str, value: str, ulp: str,
                                                      sig: int) -> None:
    (tok,) = tokenize(text)
    assert tok.kind == "NUM"
    assert (tok.value.value, tok.value.ulp, tok.value.sig) == (Fraction(value), Fraction(ulp), sig)


def test_round_half_away_from_zero() -> None:
    u = Fraction(1, 10000)
    assert round_half_away(Fraction("0.00025"), u) == Fraction("0.0003")
    assert round_half_away(Fraction("-0.60275"), u) == Fraction("-0.6028")
    assert round_half_away(Fraction("-0.602749"), u) == Fraction("-0.6027")


def test_parenthesised_negative_and_real_minus_sign() -> None:
    assert ok("\\left(-0.2651\\right) \\cdot 2 = -0.5302", "by-hand")
    assert ok("−0.5 + 1 = 0.5", "by-hand")
    assert ok("\\left(−0.25\\right) \\cdot 2 = −0.5", "by-hand")


# the two policies ----------------------------------------------------------------------

SIGMA_PRIME = "0.7349 \\cdot \\left(1 - 0.7349\\right)"  # 0.19482199


def test_by_hand_wants_the_rounded_value_exactly() -> None:
    assert ok(f"{SIGMA_PRIME} = 0.1948", "by-hand")
    assert not ok(f"{SIGMA_PRIME} = 0.1949", "by-hand")
    assert ok(f"{SIGMA_PRIME} = 0.195", "by-hand")  # 3 places shown: 0.19482 -> 0.195


def test_exact_allows_one_unit_of_the_last_digit() -> None:
    assert ok(f"{SIGMA_PRIME} = 0.1948", "exact")
    assert ok(f"{SIGMA_PRIME} = 0.1949", "exact")
    assert not ok(f"{SIGMA_PRIME} = 0.1950", "exact")
    assert not ok(f"{SIGMA_PRIME} = 0.1946", "exact")


def test_trailing_zeros_set_the_precision() -> None:
    assert ok("0.1 \\cdot 0.5004 = 0.0500", "by-hand")
    assert not ok("0.1 \\cdot 0.5006 = 0.0500", "by-hand")
    assert ok("0.1 \\cdot 0.5006 = 0.05", "by-hand")


def test_ties_round_away_from_zero() -> None:
    assert ok("-0.6 - 0.5 \\cdot 0.0055 = -0.6028", "by-hand")
    assert not ok("-0.6 - 0.5 \\cdot 0.0055 = -0.6027", "by-hand")  # a binary-float answer
    assert ok("0.61 - 0.7 \\cdot \\left(-0.05\\right) = 0.65", "by-hand")
    assert not ok("0.61 - 0.7 \\cdot \\left(-0.05\\right) = 0.64", "by-hand")


def test_scientific_results() -> None:
    line = "\\left(-0.2651\\right) \\cdot 0.1948 \\cdot 0.39 \\cdot 0.0002 \\cdot 5.02"
    assert ok(f"{line} = -2.022 \\times 10^{{-5}}", "by-hand")
    assert not ok(f"{line} = -1.707 \\times 10^{{-5}}", "by-hand")  # issue 9, item 6
    assert not ok(f"{line} = -1.707 \\times 10^{{-5}}", "exact")
    assert ok("\\left(-0.0029\\right) + \\left(-1.856 \\times 10^{-5}\\right) = -0.0029", "by-hand")


# functions and syntax ------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "\\frac{1}{1 + e^{- 2.2142}} = 0.9015",
    "\\frac{1}{1 + e^{- \\left(-0.546\\right)}} = 0.3668",
    "\\tanh{\\left(\\left(-0.15\\right) \\right)} = -0.1489",
    "\\tanh{\\left(0.98 \\right)} = 0.7531",
    "- 0 \\cdot \\log{\\left(0.4548 \\right)} - 1 \\cdot \\log{\\left(0.237 \\right)} - 0 \\cdot "
    "\\log{\\left(0.3082 \\right)} = 1.4397",
    "\\log{\\left(e^{0.8} + 1 \\right)} = 1.1711",
    "\\frac{e^{0.0284}}{e^{0.4177} + e^{\\left(-0.234\\right)} + e^{0.0284}} = 0.3082",
    "\\max\\left(0, 5.02\\right) = 5.02",
    "\\max\\left(0, \\left(-0.3\\right)\\right) = 0",
    "\\frac{0.98}{\\left|{0.98}\\right| + 1} = 0.4949",
    "\\frac{\\left(-0.3\\right)}{\\left|{\\left(-0.3\\right)}\\right| + 1} = -0.2308",
    "0.7349 \\left(1 - 0.7349\\right) = 0.1948",
    "\\frac{\\left(0.7349 - 1\\right)^{2}}{2} = 0.0351",
    "1 - \\left(-0.1489\\right)^{2} = 0.9778",
    "\\frac{1}{3} \\Bigl(\\left(-0.0574\\right) + 0 + 0.0159\\Bigr) = -0.0138",
    "- \\frac{0}{0.4548} \\cdot 0.4548 \\cdot \\left(1 - 0.4548\\right) - 0.4548 \\cdot 0.237 "
    "\\cdot \\left(- \\frac{1}{0.237}\\right) = 0.4548",
    "0.9015 \\cdot \\left(1 - 0.9015\\right) \\cdot \\Bigl(\\left(-0.0516\\right) \\cdot 0.61\\Bigr)"
    " = -0.0028",
    "\\begin{cases} 0 & \\text{for}\\: 5.02 \\leq 0 \\\\1 & \\text{otherwise} \\end{cases} \\cdot "
    "\\Bigl(\\left(-0.0028\\right) \\cdot 0.17\\Bigr) = -0.0005",
    "\\begin{cases} 0 & \\text{for}\\: \\left(-0.3\\right) \\leq 0 \\\\1 & \\text{otherwise} "
    "\\end{cases} \\cdot \\Bigl(0.5 \\cdot 0.2\\Bigr) = 0",
    "2 \\cdot 0.5157 - 2 \\cdot 1 = -0.9686",
    "0.42 \\cdot 6 + 0.72 \\cdot 2 + 0.21 \\cdot 5 + 0.01 = 5.02",
    "0.0148 = 0.0148",
])
def test_lines_the_keys_write_are_read_and_pass(line: str) -> None:
    assert ok(line, "by-hand"), check_line(line, "by-hand").message()
    assert ok(line, "exact"), check_line(line, "exact").message()


def test_a_power_binds_tighter_than_the_minus() -> None:
    """`1 - a^2 \\cdot (...)` is 1 - (a^2 (...)), however it was meant."""
    assert ok("1 - 0.5^{2} \\cdot \\Bigl(2\\Bigr) = 0.5", "by-hand")
    assert not ok("1 - 0.5^{2} \\cdot \\Bigl(2\\Bigr) = 1.5", "by-hand")


def test_a_wrong_function_value_fails() -> None:
    assert not ok("\\frac{1}{1 + e^{- 2.2142}} = 0.9016", "by-hand")
    assert not ok("\\tanh{\\left(0.98 \\right)} = 0.7532", "exact")


def test_an_undefined_value_fails() -> None:
    rep = check_line("\\log{\\left(1 - 1 \\right)} = 0", "exact")
    assert rep.failures and "undefined" in rep.failures[0].recomputed


def test_symbolic_statements_are_skipped() -> None:
    rep = check_line("z_{1}^{(1)} = w_{11}^{(1)} x_{1} + b_{1}^{(1)}", "exact")
    assert not rep.checks and not rep.unparsed and rep.skipped["symbolic statement"] == 1


def test_a_line_that_cannot_be_read_is_reported() -> None:
    rep = check_line("0.5 \\star 2 = 1", "exact")
    assert rep.unparsed and "unknown" in rep.unparsed[0][1]
    assert "cannot parse" in rep.message()
    rep = check_line("\\operatorname{ReLU}'\\left(5.02\\right) = 1", "exact")
    assert rep.failures or rep.unparsed  # f'(number): not silently passed
    rep = check_line("\\operatorname{softsign}\\left(0.5\\right) = 0.3333", "exact")
    assert rep.unparsed and "softsign" in rep.unparsed[0][1]
    rep = check_line("\\mathrm{ReLU}\\left(0.5\\right) = 0.5", "exact")
    assert rep.unparsed and "ReLU" in rep.unparsed[0][1]
    rep = check_line("0.5 + = 1", "exact")
    assert rep.unparsed


def test_a_computation_with_no_shown_result_is_reported() -> None:
    rep = check_line("L = \\left(0.5 - 1\\right)^{2}", "exact")
    assert rep.unparsed and "no shown result" in rep.unparsed[0][1]


# whole keys: rows, continuations, updates, ReLU, matrices -------------------------------

PATHS = block(
    "\\frac{\\partial L}{\\partial w_{11}^{(1)}} &= \\frac{\\partial L}{\\partial a} "
    "\\cdot x_{1}",
    "&\\quad + \\frac{\\partial L}{\\partial a} \\cdot x_{1}",
    "&= \\left(-0.2651\\right) \\cdot 0.1948 \\cdot 0.61 \\cdot 0.0888 \\cdot 0.17 \\cdot 1 \\cdot 6",
    "&\\quad + \\left(-0.2651\\right) \\cdot 0.1948 \\cdot 0.39 \\cdot 0.0002 \\cdot 0.91 \\cdot 1 "
    "\\\\ &\\qquad \\cdot 6",
    "&= \\left(-0.0029\\right) + \\left(-2.199 \\times 10^{-5}\\right)",
    "&= -0.0029",
)


def test_path_sums_are_checked_path_by_path() -> None:
    rep = check_markdown(PATHS, "by-hand")
    kinds = sorted(c.kind for c in rep.checks)
    assert kinds == ["path sum", "path value", "path value"], rep.message()
    assert not rep.failures and not rep.unparsed, rep.message()
    assert rep.skipped["path products against the final sum (by-hand)"] == 1
    rep = check_markdown(PATHS, "exact")
    assert sorted(c.kind for c in rep.checks) == ["gradient", "path sum", "path value",
                                                   "path value"]
    wrong = PATHS.replace("-2.199 \\times 10^{-5}", "-1.856 \\times 10^{-5}")
    for policy in ("exact", "by-hand"):
        bad = check_markdown(wrong, policy).failures
        assert [c.kind for c in bad] == ["path value"], policy
        assert "0.0002" in bad[0].latex and "-1.856" in bad[0].shown


def test_update_rows_with_their_tags() -> None:
    md = block("w_{11}^{(1)} &\\leftarrow 0.42 - 0.7 \\cdot \\left(-0.0029\\right) = 0.422 "
               "&& \\text{(4.1)}",
               "w_{12}^{(2)} &\\leftarrow 0.91 - 0.7 \\cdot \\left(-1.707 \\times 10^{-5}\\right) "
               "= 0.9100 && \\text{(4.12)}",
               "b_{1}^{(3)} &\\leftarrow 0.08 - 0.7 \\cdot \\left(-0.0516\\right) = 0.1162 "
               "&& \\text{(4.17)}")
    rep = check_markdown(md, "by-hand")
    assert [c.kind for c in rep.checks] == ["update"] * 3
    assert [c.ok for c in rep.checks] == [True, True, False]  # 0.11612 shows as 0.1161


def test_batch_rows_hold_two_statements() -> None:
    md = block("\\frac{\\partial L}{\\partial w_{11}^{(1)}} &= \\frac{1}{3} \\Bigl(\\left(-0.0574"
               "\\right) + 0 + 0.0159\\Bigr) = -0.0138, \\quad w_{11}^{(1)} \\leftarrow 0.1 - 0.01 "
               "\\cdot \\left(-0.0138\\right) = 0.1001")
    rep = check_markdown(md, "by-hand")
    assert [(c.kind, c.ok) for c in rep.checks] == [("gradient", True), ("update", True)]


RELU = ("\\frac{\\partial a_{1}^{(1)}}{\\partial z_{1}^{(1)}} &= \\operatorname{ReLU}'\\left("
        "z_{1}^{(1)}\\right) = \\begin{cases} 0 & \\text{for}\\: z_{1}^{(1)} \\leq 0 \\\\1 & "
        "\\text{otherwise} \\end{cases} = {value} \\quad \\text{since } z_{1}^{(1)} = {z} {rel} 0")


@pytest.mark.parametrize("value, z, rel, good", [
    ("1", "5.02", ">", True),
    ("0", "-0.3", "\\le", True),
    ("0", "0", "\\le", True),
    ("1", "0", ">", False),  # the condition is false
    ("1", "-0.3", "\\le", False),  # the branch is wrong
    ("0", "5.02", "\\le", False),
])
def test_relu_rows(value: str, z: str, rel: str, good: bool) -> None:
    row = RELU.replace("{value}", value).replace("{z}", z).replace("{rel}", rel)
    rep = check_markdown(block(row, "a &= 1 = 1"), "exact")
    assert not rep.unparsed, rep.message()
    assert sorted(c.kind for c in rep.checks) == ["relu branch", "relu condition",
                                                  "restated value"]
    assert (not rep.failures) is good, rep.message()


def mat(*rows: str) -> str:
    return "\\left[\\begin{matrix}" + "\\\\".join(rows) + "\\end{matrix}\\right]"


def test_matrix_lines() -> None:
    z = (f"{mat('-1.75', '0.172')} {mat('1.5')} + {mat('-0.1', '0.15')} "
         f"= {mat('-2.725', '0.408')}")
    assert ok(z, "by-hand")
    assert not ok(z.replace("0.408", "0.409"), "by-hand")
    assert ok(f"{mat('-0.9686')} {mat('0.0615 & 0.6006')} = {mat('-0.0596 & -0.5817')}", "by-hand")
    assert ok(f"{mat('-0.2422', '-0.4843')} \\odot {mat('0.0577', '0.2399')} = "
              f"{mat('-0.014', '-0.1162')}", "by-hand")
    assert ok(f"\\left({mat('0.25', '0.5')} {mat('-0.9686')}\\right) \\odot "
              f"{mat('0.0577', '0.2399')} = {mat('-0.014', '-0.1162')}", "exact")
    assert ok(f"{mat('0.25 & 0.5')} - 0.1 \\cdot {mat('-0.0596 & -0.5818')} "
              f"= {mat('0.256 & 0.5582')}", "by-hand")
    assert not ok(f"{mat('1 & 2')} {mat('1 & 2')} = {mat('5')}", "exact")  # shapes do not fit


def test_low_precision_factors_are_listed() -> None:
    line = ("\\left(-0.2651\\right) \\cdot 0.1948 \\cdot 0.39 \\cdot 0.0002 \\cdot 5.02 "
            "= -2.022 \\times 10^{-5}")
    rep = check_markdown(block("g &= " + line), "exact")
    assert sorted(f for f, _, _ in rep.low_sig) == ["0.0002", "0.39"]
    rep = check_markdown(block("g &= " + line), "exact", exact_values={Fraction("0.39")})
    assert [f for f, _, _ in rep.low_sig] == ["0.0002"]
    # zero, integers and the shown result are not factors with too few figures
    rep = check_markdown(block("g &= 0 \\cdot 0.1948 \\cdot 6 + 0.1234 = 0.1234"), "exact")
    assert not rep.low_sig


def test_parse_keeps_juxtaposition_a_product() -> None:
    assert parse("2 \\left(3\\right)") != parse("2 + 3")
