"""Expression positions point into the plan file, whatever YAML style holds them.

Each case writes the derived metric `m` in one scalar style with an unknown
name `oops` somewhere inside; the error must sit exactly on `oops`.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml
from hypothesis import assume, given, settings, strategies as st

from dsl.errors import format_diagnostic
from dsl.loader import load_plan_text
from plan_helpers import problems_of

HEAD = "plan: t\ncurrency: KRW\nusage: {amount: money}\nmetrics:\n  gross: {sum: amount}\n"  # lines 1-5

STYLES = [
    ("plain", "  m: gross + oops\n", (6, 14)),
    ("plain_flow", "  m2: {sum: amount}\n  m: max(gross, oops)\n", (7, 17)),
    ("single_quoted", "  m: 'gross + oops'\n", (6, 15)),
    ("single_quoted_doubled_quote", "  m: 'max(gross, if \"it''s\" == \"x\" then gross else oops)'\n", (6, 52)),
    ("double_quoted", '  m: "gross + oops"\n', (6, 15)),
    ("double_quoted_escaped_quotes", '  m: "if \\"a\\" == \\"b\\" then gross else oops"\n', (6, 41)),
    ("double_quoted_unicode_escape", '  m: "if \\"\\u00e9\\" == \\"x\\" then gross else oops"\n', (6, 46)),
    ("double_quoted_escaped_line_break", '  m: "gross \\\n    + oops"\n', (7, 7)),
    ("double_quoted_over_lines", '  m: "gross\n    + oops"\n', (7, 7)),
    ("single_quoted_over_lines", "  m: 'gross +\n\n    oops'\n", (8, 5)),
    ("folded", "  m: >\n    gross +\n    oops\n", (8, 5)),
    ("folded_strip", "  m: >-\n    gross\n    + 2 * oops\n", (8, 11)),
    ("folded_with_blank_line", "  m: >\n    gross\n\n    + oops\n", (9, 7)),
    ("folded_more_indented", "  m: >\n    gross\n      + oops\n", (8, 9)),
    ("literal", "  m: |\n    gross\n      + oops\n", (8, 9)),
    ("literal_keep", "  m: |+\n    gross +\n    oops\n\n", (8, 5)),
    ("literal_with_indent_indicator", "  m: |2\n      gross + oops\n", (7, 15)),
    ("literal_with_comment_on_header", "  m: | # the net\n    gross + oops\n", (7, 13)),
    ("plain_over_lines", "  m: gross\n    + oops\n", (7, 7)),
    ("plain_over_three_lines", "  m: gross +\n    1 +\n       oops\n", (8, 8)),
    ("double_quoted_with_tab", '  m: "gross +\toops"\n', (6, 15)),
    ("plain_after_wide_characters", '  m: \'if "순매출" == "x" then gross else oops\'\n', (6, 39)),
    ("crlf_line_endings", "  m: gross\r\n    + oops\r\n", (7, 7)),
]


@pytest.mark.parametrize(("part", "position"), [c[1:] for c in STYLES], ids=[c[0] for c in STYLES])
def test_error_inside_a_value_points_at_the_name(part, position):
    found = problems_of(HEAD + part)
    assert len(found) == 1, found
    line, column, message = found[0]
    assert message == "unknown name 'oops' in metric 'm'"
    assert (line, column) == position


def test_the_caret_sits_under_the_name_in_the_source_line():
    text = HEAD + "  m: >\n    gross +\n    oops\n"
    loaded = load_plan_text("plan.yaml", text)
    shown = format_diagnostic(loaded.diagnostics[0], text)
    assert shown.splitlines() == [
        "plan.yaml:8:5: error: unknown name 'oops' in metric 'm'",
        "        oops",
        "        ^^^^",
    ]


def test_a_syntax_error_at_the_end_of_a_block_points_after_the_last_character():
    found = problems_of(HEAD + "  m: |\n    gross +\n      (1 +\n")
    assert found == [(8, 11, "expression ends too early; expected a value (a number, name, text, date or '(')")]


def test_a_number_or_boolean_value_is_an_expression_at_its_position():
    text = HEAD + "charges:\n  fee:\n    model: formula\n    amount: 1000\n    when: 7\n"
    assert problems_of(text) == [(10, 11, "`when` must be true or false, but this is integer")]


def test_a_value_that_is_not_text_is_reported_at_the_value():
    text = HEAD + "  m: [gross]\n"
    found = problems_of(text)
    assert [(line, column) for line, column, _ in found] == [(6, 6)]


# --- any style PyYAML writes, any spacing: the position is where the name is ---


_PIECES = st.sampled_from(["gross", "1", "2.5", '"a b"', "'x'", "(gross)", "max(gross, 1)", '"é\\""', "'순'"])
_OPERATORS = st.sampled_from([" + ", " - ", "*", " * ", "\n+ ", " +\n\n ", "\t-\t", " /  "])


@st.composite
def expression_with_oops(draw):
    """`... oops ...`: literal pieces joined by operators, with `oops` somewhere."""
    pieces = draw(st.lists(_PIECES, min_size=1, max_size=6))
    pieces.insert(draw(st.integers(0, len(pieces))), "oops")
    out = pieces[0]
    for piece in pieces[1:]:
        out += draw(_OPERATORS) + piece
    return out


@settings(max_examples=int(os.environ.get("RATECARD_FUZZ_EXAMPLES", "150")), deadline=None)
@given(expression=expression_with_oops(), style=st.sampled_from([None, "'", '"', "|", ">"]), width=st.sampled_from([20, 80]))
def test_position_matches_the_file_for_any_yaml_style(expression, style, width):
    body = yaml.dump({"m": expression}, default_style=style, width=width, allow_unicode=True)
    assume(yaml.safe_load(body)["m"] == expression)  # PyYAML's folded style does not always round-trip
    body = re.sub(r"""^(['"]?)m\1:""", "m:", body)  # the key gets the style too; keep it plain
    text = HEAD + "".join("  " + line + "\n" for line in body.splitlines())
    loaded = load_plan_text("plan.yaml", text)
    located = [d for d in loaded.diagnostics if d.message == "unknown name 'oops' in metric 'm'"]
    assert len(located) == 1, (text, loaded.diagnostics)  # other pieces may add type errors
    span = located[0].span
    line_text = text.splitlines()[span.line - 1]
    assert line_text[span.column - 1 : span.column + 3] == "oops", (text, span)


# --- the caret line ---------------------------------------------------------


def _shown(text: str) -> list[str]:
    loaded = load_plan_text("plan.yaml", text)
    return format_diagnostic(loaded.diagnostics[0], text).splitlines()


def test_caret_stays_under_the_spot_after_korean_text():
    shown = _shown(
        HEAD.replace("usage: {amount: money}", "usage: {amount: money, kind: {type: text, values: [승인]}}")
        + '  m: {count: true, where: kind == "승인" and oops}\n'
    )
    assert shown[0] == "plan.yaml:6:44: error: unknown name 'oops' in the where of metric 'm'"
    assert shown[1] == '      m: {count: true, where: kind == "승인" and oops}'
    assert shown[2] == "    " + " " * 45 + "^^^^"  # 승인 takes four terminal cells, not two


def test_caret_counts_a_tab_as_one_column():
    shown = _shown(HEAD + '  m: "gross +\toops"\n')
    assert shown[1:] == ['      m: "gross + oops"', "    " + " " * 14 + "^^^^"]


def test_a_very_long_line_is_shown_around_the_spot():
    shown = _shown(HEAD + '  m: "' + "1 + " * 100 + 'oops"\n')
    assert shown[0] == "plan.yaml:6:407: error: unknown name 'oops' in metric 'm'"
    assert shown[1].startswith("    …") and len(shown[1]) < 200
    assert shown[1][len(shown[2]) - 4 : len(shown[2])] == "oops"
    assert shown[2].endswith("^^^^") and set(shown[2].strip()) == {"^"}
