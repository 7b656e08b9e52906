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

from dsl.errors import Span, format_diagnostic
from dsl.loader import load_plan_text
from dsl.source import Scalar, child, offset_span, read_documents, scalar_is_mapped, to_plain
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
    assert (span.end_line, span.end_column) == (span.line, span.column + 4), (text, span)


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


# --- the whole span of a part inside a quoted value: escapes are wider in the file ---

# `gross + "x"` adds text to money: the error covers that part, wherever its escapes put its end.
WHOLE_PARTS = [
    ("escaped_quotes", '  m: "if \\"a\\" == \\"b\\" then gross else gross + \\"x\\""\n', (6, 41, 6, 54), 'gross + \\"x\\"'),
    ("escaped_backslash", '  m: "gross + \\"a\\\\\\\\b\\""\n', (6, 7, 6, 25), 'gross + \\"a\\\\\\\\b\\"'),
    ("escaped_tab", '  m: "gross +\\t\\"x\\""\n', (6, 7, 6, 21), 'gross +\\t\\"x\\"'),
    ("unicode_escape", '  m: "gross + \\"\\u00e9\\""\n', (6, 7, 6, 25), 'gross + \\"\\u00e9\\"'),
    ("escape_before_the_part", '  m: "if \\"\\u00e9\\" == \\"x\\" then gross + \\"y\\" else gross"\n', (6, 35, 6, 48), 'gross + \\"y\\"'),
    ("single_quoted_doubled_quote", "  m: 'gross + \"it''s\"'\n", (6, 7, 6, 22), "gross + \"it''s\""),
]


@pytest.mark.parametrize(("part", "span", "covered"), [c[1:] for c in WHOLE_PARTS], ids=[c[0] for c in WHOLE_PARTS])
def test_a_type_error_covers_exactly_its_part_of_a_quoted_value(part, span, covered):
    text = HEAD + part
    loaded = load_plan_text("plan.yaml", text)
    [found] = [d for d in loaded.diagnostics if d.message.startswith("cannot compute money (KRW) + text")]
    where = found.span
    assert (where.line, where.column, where.end_line, where.end_column) == span
    line = text.splitlines()[where.line - 1]
    assert line[where.column - 1 : where.end_column - 1] == covered
    caret = format_diagnostic(found, text).splitlines()[2]
    assert line[caret.index("^") - 4 : len(caret) - 4] == covered


def test_the_caret_covers_an_escaped_part_and_nothing_after_it():
    text = HEAD + '  m: "gross + \\"x\\" + 1"\n'
    loaded = load_plan_text("plan.yaml", text)
    assert format_diagnostic(loaded.diagnostics[0], text).splitlines()[1:] == [
        '      m: "gross + \\"x\\" + 1"',
        "          " + "^" * len('gross + \\"x\\"'),
    ]


def test_a_part_folded_over_lines_of_a_double_quoted_value_ends_on_its_last_line():
    text = HEAD + '  m: "if \\"a\\" == \\"b\\" then gross else gross\n    + \\"x\\""\n'
    loaded = load_plan_text("plan.yaml", text)
    [found] = [d for d in loaded.diagnostics if d.message.startswith("cannot compute money (KRW) + text")]
    where = found.span
    assert (where.line, where.column, where.end_line, where.end_column) == (6, 41, 7, 12)


def test_an_escaped_line_break_followed_by_a_blank_line_keeps_the_position():
    # `\` at the end of a line joins it to the next; the blank line after it is a line break of the value
    text = HEAD + '  m: "if \\"a\\" == \\"b\\" \\\n\n    then gross else oops"\n'
    assert problems_of(text) == [(8, 21, "unknown name 'oops' in metric 'm'")]


def test_a_value_that_does_not_match_the_file_is_located_at_its_start():
    # a scalar whose text is not what the file holds at its place: no position inside it is trusted
    text = HEAD + '  m: "gross + \\"x\\""\n'
    start = text.index('"gross')
    node = Scalar('gross + "y"', '"', Span("plan.yaml", 6, 6, 6, 22), start, start + 16)
    assert not scalar_is_mapped(text, node)
    assert offset_span(text, node, 8, 3) == Span("plan.yaml", 6, 6, 6, 7)
    written = Scalar('gross + "x"', '"', Span("plan.yaml", 6, 6, 6, 22), start, start + 16)
    assert scalar_is_mapped(text, written)
    assert offset_span(text, written, 8, 3) == Span("plan.yaml", 6, 15, 6, 20)


SEGMENTS = """\
plan: segments
currency: USD
timezone: UTC
usage:
  units: integer
customer:
  segment: {type: text, values: [startup, enterprise], default: startup}
metrics:
  used: {sum: units}
charges:
  support:
    name: Startup support
    model: flat
    amount: 10
    when: "customer.segment == \\"startup\\" and used > 1\\t"
"""


def test_explain_quotes_each_condition_of_a_double_quoted_value_whole(ratecard, tmp_path):
    (tmp_path / "plan.yaml").write_text(SEGMENTS, encoding="utf-8")
    (tmp_path / "usage.csv").write_text("event_id,customer,timestamp,units\ne1,acme,2024-11-02T10:00:00,7\n", encoding="utf-8")
    result = ratecard("explain", tmp_path / "plan.yaml", "--usage", tmp_path / "usage.csv", "--customer", "acme", "--period", "2024-11")
    assert result.exit_code == 0, result.output
    assert '── customer.segment == \\"startup\\" = true\n' in result.stdout
    assert "── used > 1 = true\n" in result.stdout


@settings(max_examples=int(os.environ.get("RATECARD_FUZZ_EXAMPLES", "150")), deadline=None)
@given(
    value=st.text(st.sampled_from("ab é순 \t\n\\\"'#:\x01\x85\u2028\ufeff"), max_size=60), style=st.sampled_from([None, "'", '"', "|", ">"])
)
def test_every_value_pyyaml_writes_is_matched_to_the_file(value, style):
    body = "m: " + yaml.dump(value, default_style=style, width=20, allow_unicode=True).removesuffix("...\n")
    documents, _ = read_documents("plan.yaml", body)
    assume(documents is not None and to_plain(documents[0].root) == {"m": value})
    _, node = child(documents[0].root, "m")
    assert isinstance(node, Scalar) and scalar_is_mapped(body, node), body
