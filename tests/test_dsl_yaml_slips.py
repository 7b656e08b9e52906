"""Common YAML slips (a missing colon, an indentation off by a space, an unclosed bracket or
quote) are reported at the line where they were made, in words that say what to write.

PyYAML notices most of them only a line or more later ("mapping values are not allowed
here" on the next key); each case gives the line and column of the slip itself. A property
makes one slip anywhere in a shipped plan: whatever we name is named at that line.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dsl.loader import load_plan_text
from plan_helpers import PLANS, problems_of

SLIPS = [
    (
        "colon_missing_after_a_key_with_children",
        """\
plan: t
currency: KRW
charges:
  base
    model: flat
    amount: 5 KRW
""",
        4,
        7,
        "missing ':' after 'base': write `base:`",
    ),
    (
        "colon_missing_between_key_and_value",
        """\
plan: t
currency: KRW
charges:
  base:
    model flat
    amount: 5 KRW
""",
        5,
        10,
        "missing ':' after 'model': write `model: flat`",
    ),
    (
        "colon_missing_before_the_next_key",
        """\
plan: t
currency: KRW
charges:
  base:
    model: flat
    amount 5
    name: x
""",
        6,
        11,
        "missing ':' after 'amount': write `amount: 5`",
    ),
    (
        "colon_missing_on_the_last_line",
        """\
plan: t
currency: KRW
charges:
  base:
    model: flat
    amount 5
""",
        6,
        11,
        "missing ':' after 'amount': write `amount: 5`",
    ),
    (
        "no_space_after_the_colon",
        """\
plan: t
currency: KRW
charges:
  base:
    model:flat
    amount: 5 KRW
""",
        5,
        10,
        "put a space after ':' in `model:flat`: write `model: flat`",
    ),
    (
        "indented_deeper_than_its_sibling",
        """\
plan: t
currency: KRW
charges:
  base:
    model: flat
      amount: 5 KRW
""",
        6,
        7,
        "this line is indented more than `model:` on line 5, which already has a value; line it up with `model:`",
    ),
    (
        "indented_between_two_levels",
        """\
plan: t
currency: KRW
charges:
  base:
    model: flat
   amount: 5 KRW
""",
        6,
        4,
        "this line is indented 3 spaces, which matches no line above it (line 5 has 4, line 4 has 2); indent it like one of them",
    ),
    (
        "list_item_indented_between_two_levels",
        """\
plan: t
currency: KRW
usage: {units: integer}
metrics:
  units: {sum: units}
charges:
  base:
    model: graduated
    on: units
    tiers:
      - {up_to: 5, unit_price: 1}
     - {unit_price: 2}
""",
        12,
        6,
        "this line is indented 5 spaces, which matches no line above it (line 11 has 6, line 10 has 4); indent it like one of them",
    ),
    (
        "list_item_without_a_space",
        """\
plan: t
currency: KRW
usage: {units: integer}
charges:
  base:
    model: graduated
    on: units
    tiers:
      -{up_to: 5, unit_price: 1}
      - {unit_price: 2}
""",
        9,
        7,
        "a list item needs a space after '-': write `- {up_to: 5, unit_price: 1}`",
    ),
    (
        "colon_and_space_inside_text",
        """\
plan: t
currency: KRW
charges:
  base:
    model: flat
    name: Fee: monthly
    amount: 5 KRW
""",
        6,
        11,
        "text holding ': ' must be in quotes: write `name: \"Fee: monthly\"`",
    ),
    (
        "brace_not_closed",
        """\
plan: t
currency: KRW
charges:
  base: {model: flat, amount: 5 KRW
  other: {model: flat, amount: 5 KRW}
""",
        4,
        9,
        "this `{` is not closed (missing `}`?)",
    ),
    (
        "bracket_not_closed",
        """\
plan: t
currency: KRW
usage: {kind: {type: text, values: [a, b}}
""",
        3,
        36,
        "this `[` is not closed (missing `]`?)",
    ),
    (
        "quote_not_closed",
        """\
plan: t
currency: KRW
name: "abc
charges:
  base: {model: flat, amount: 5 KRW}
""",
        3,
        7,
        "this quote is never closed",
    ),
    (
        "list_inside_braces_unquoted",
        """\
plan: t
currency: KRW
usage: {kind: {type: text, values: [a, b]}, amount: money}
metrics:
  both: {sum: amount, where: kind in ["a", "b"]}
""",
        5,
        38,
        'inside {...}, an expression holding `[` or `,` must be in quotes: write where: \'kind in ["a", "b"]\'',
    ),
    (
        "expression_starting_with_a_quote",
        """\
plan: t
currency: KRW
customer: {segment: {type: text, values: [a, b]}}
charges:
  base:
    model: flat
    amount: 5 KRW
    when: "a" == customer.segment
""",
        8,
        11,
        "a value that starts with a quote ends there: put the whole expression in quotes, as in '\"a\" == customer.segment'",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), [s[1:] for s in SLIPS], ids=[s[0] for s in SLIPS])
def test_a_yaml_slip_is_reported_where_it_was_made(text, line, column, message):
    assert problems_of(text) == [(line, column, f"invalid YAML: {message}")]


def test_an_unrecognised_yaml_error_keeps_the_parser_message():
    assert problems_of("plan: t\ncurrency: KRW\n? [a]\n: b\nx: *nowhere\n")[0][2].startswith("invalid YAML: found undefined alias")


# --- one slip anywhere in a shipped plan -----------------------------------------------

SHIPPED = {path.name: path.read_text(encoding="utf-8") for path in sorted(PLANS.glob("*.yaml"))}
OURS = (
    "missing ':'",
    "put a space after",
    "this line is indented",
    "a list item needs",
    "text holding",
    "is not closed",
    "quote is never closed",
    "inside {...}",
    "a value that starts with a quote",
)


def _slipped(text: str, kind: str, pick: int) -> tuple[str, int] | None:
    """`text` with one slip made on one line (chosen by `pick`), and that line's number."""
    rows = text.split("\n")
    candidates = [i for i, row in enumerate(rows) if row.strip() and not row.lstrip().startswith("#")]
    if kind == "colon":
        candidates = [i for i in candidates if re.match(r"^\s*(- )?[\w]+: ", rows[i])]
    index = candidates[pick % len(candidates)]
    row = rows[index]
    if kind == "colon":
        rows[index] = re.sub(r"^(\s*(?:- )?[\w]+): ", r"\1 ", row, count=1)
    elif kind == "deeper":
        rows[index] = " " + row
    elif kind == "shallower":
        if not row.startswith("  "):
            return None
        rows[index] = row[1:]
    return "\n".join(rows), index + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.sampled_from(sorted(SHIPPED)), kind=st.sampled_from(["colon", "deeper", "shallower"]), pick=st.integers(0, 10_000))
def test_a_slip_we_name_is_named_at_its_own_line(plan, kind, pick):
    made = _slipped(SHIPPED[plan], kind, pick)
    if made is None:
        return
    text, line = made
    problems = load_plan_text(plan, text).diagnostics  # never raises
    named = [d for d in problems if d.code == "yaml" and any(word in d.message for word in OURS)]
    for d in named:
        assert d.span.line in (line, line - 1, line + 1) if kind == "shallower" else d.span.line == line, (line, d, text)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "plan: t\ncurrency: KRW\nusage:\n  kind: {type: text}\n   amount: money\n",
            5,
            4,
            "this line is indented more than `kind:` on line 4, which already has a value; line it up with `kind:`",
        ),
        (
            "# a plan\n plan: t\ncurrency: KRW\n",
            2,
            1,
            "the plan's first key is indented: top-level keys start at the beginning of the line",
        ),
    ],
)
def test_more_indentation_slips(text, line, column, message):
    assert problems_of(text) == [(line, column, f"invalid YAML: {message}")]
