"""Plan mistakes that used to pass `check` and bill wrong without a word: each is now an error
or a warning at its line and column.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings, strategies as st

from dsl import loader
from dsl.schema import json_schema
from plan_helpers import load_text, problems_of

SETTLEMENT = """\
plan: s
kind: settlement
currency: KRW
usage: {amount: money}
metrics:
  paid: {sum: amount}
lines:
  payments: paid
  fee: payments * 10%
  payout: payments - fee
total: payout
"""

INVOICE = """\
plan: i
currency: KRW
charges:
  base: {model: flat, amount: 1_000 KRW}
"""


# --- keys of the other kind of plan ------------------------------------------------------


def test_the_plans_without_them_are_clean():
    assert problems_of(SETTLEMENT) == [] and problems_of(INVOICE) == []


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        (
            "taxes:\n  vat: {rate: 10%}\n",
            12,
            "a settlement plan has no `taxes:`; compute the tax as a line (e.g. `vat: {value: revenue * 10%, rounding: down}`) and take it off the total line",
        ),
        (
            "discounts:\n  promo: {percent: 10%}\n",
            12,
            "a settlement plan has no `discounts:`; write the deduction as a line and take it off the total line",
        ),
        ("minimum: 50_000 KRW\n", 12, "a settlement plan has no `minimum:`; write it into the line, e.g. max(50_000 KRW, ...)"),
    ],
)
def test_invoice_keys_in_a_settlement_plan_are_errors(extra, line, message):
    assert problems_of(SETTLEMENT + extra) == [(line, 1, message)]


def test_total_in_an_invoice_plan_is_an_error():
    assert problems_of(INVOICE + "total: base\n") == [
        (5, 1, "`total:` names the total line of a settlement plan; an invoice's total is its subtotal plus taxes"),
    ]


# --- comparisons against declared values -------------------------------------------------

CHOICES = """\
plan: c
currency: KRW
usage:
  kind: {type: text, values: [approval, refund]}
  amount: money
customer:
  segment: {type: text, values: [startup, enterprise]}
metrics:
  volume: {sum: amount}
charges:
  base: {model: flat, amount: 1_000 KRW}
"""


def _at(text: str, needle: str) -> tuple[int, int]:
    """Line and column of the one occurrence of `needle` in `text`."""
    rows = [(number, row) for number, row in enumerate(text.splitlines(), 1) if needle in row]
    assert len(rows) == 1, (needle, rows)
    return rows[0][0], rows[0][1].index(needle) + 1


NEVER = "'Startup' is not one of the values of customer.segment (startup, enterprise), so this is never true; did you mean 'startup'?"
ALWAYS = "'Startup' is not one of the values of customer.segment (startup, enterprise), so this is always true; did you mean 'startup'?"


@pytest.mark.parametrize(
    ("extra", "needle", "message"),
    [
        ('discounts:\n  d: {percent: 10%, when: customer.segment == "Startup"}\n', '"Startup"', NEVER),
        ("discounts:\n  d: {percent: 10%, when: '\"Startup\" == customer.segment'}\n", '"Startup"', NEVER),
        ('discounts:\n  d: {percent: 10%, when: customer.segment != "Startup"}\n', '"Startup"', ALWAYS),
        (
            'discounts:\n  d: {percent: 10%, when: \'customer.segment in ["enterprise", "Startup"]\'}\n',
            '"Startup"',
            "'Startup' is not one of the values of customer.segment (startup, enterprise), so this option never matches; did you mean 'startup'?",
        ),
        (
            "discounts:\n  d: {percent: 10%, when: 'customer.segment not in [\"Startup\"]'}\n",
            '"Startup"',
            "'Startup' is not one of the values of customer.segment (startup, enterprise), so leaving it out changes nothing; did you mean 'startup'?",
        ),
        ('taxes:\n  vat: {rate: 10%, when: customer.segment == "Startup"}\n', '"Startup"', NEVER),
        ('notices:\n  n: {when: customer.segment == "Startup" and volume > 0, message: hi}\n', '"Startup"', NEVER),
        (
            'metrics:\n  refunds: {sum: amount, where: kind == "refnd"}\n',
            '"refnd"',
            "'refnd' is not one of the values of kind (approval, refund), so this is never true; did you mean 'refund'?",
        ),
        (
            "metrics:\n  moves: {sum: \"if kind == 'Refund' then amount else 0\"}\n",
            "'Refund'",
            "'Refund' is not one of the values of kind (approval, refund), so this is never true; did you mean 'refund'?",
        ),
        (
            'require:\n  - {rule: kind != "aproval" or amount > 0, message: x}\n',
            '"aproval"',
            "'aproval' is not one of the values of kind (approval, refund), so this is always true; did you mean 'approval'?",
        ),
        ('metrics:\n  share: if customer.segment == "Startup" then 1 else 2\n', '"Startup"', NEVER),
    ],
)
def test_a_comparison_with_a_value_that_is_not_declared_is_an_error(extra, needle, message):
    text = CHOICES.replace("metrics:\n  volume: {sum: amount}\n", "") + extra if extra.startswith("metrics") else CHOICES + extra
    if extra.startswith("metrics"):
        text = text.replace("metrics:\n", "metrics:\n  volume: {sum: amount}\n", 1)
    assert problems_of(text) == [(*_at(text, needle), message)]


def test_declared_values_compare_cleanly():
    text = CHOICES + 'discounts:\n  d: {percent: 10%, when: \'customer.segment in ["startup"] and customer.segment != "enterprise"\'}\n'
    assert problems_of(text) == []


def test_a_value_far_from_every_declared_one_gets_no_guess():
    text = CHOICES + 'discounts:\n  d: {percent: 10%, when: customer.segment == "public"}\n'
    assert problems_of(text) == [
        (*_at(text, '"public"'), "'public' is not one of the values of customer.segment (startup, enterprise), so this is never true")
    ]


@pytest.mark.parametrize("spec", ["kind", "segment"])  # a usage field, a customer attribute
def test_a_default_outside_the_declared_values_is_an_error(spec):
    text = CHOICES.replace("values: [startup, enterprise]}", "values: [startup, enterprise], default: Startup}").replace(
        "values: [approval, refund]}", "values: [approval, refund], default: aproval}"
    )
    wanted = {"kind": ("aproval", "approval, refund", "approval"), "segment": ("Startup", "startup, enterprise", "startup")}[spec]
    found = [p for p in problems_of(text) if p[0] == _at(text, f"default: {wanted[0]}")[0]]
    assert found == [(*_at(text, wanted[0]), f"default {wanted[0]!r} is not one of {wanted[1]}; did you mean {wanted[2]!r}?")]


def test_an_empty_values_list_is_an_error():
    text = CHOICES.replace("values: [approval, refund]", "values: []")
    assert problems_of(text) == [(*_at(text, "[]"), "`values: []` allows no value: every row would be rejected")]


# --- filters on text fields without declared values --------------------------------------

UNLISTED = """\
plan: u
currency: KRW
usage: {kind: text, amount: money}
metrics:
  approved: {sum: amount, where: kind == "approval"}
  refunded: {sum: amount, where: 'kind in ["cancel", "refund"]'}
charges:
  fee: {model: percentage, on: amount, rate: 1%, where: kind == "approval"}
"""

UNLISTED_WARNING = (
    "'kind' is text without `values:`: a row whose kind is none of the values compared here "
    "(a typo, another spelling) is accepted and counted nowhere; declare its values "
    "(`kind: {type: text, values: [...]}`) so such a row is rejected"
)


def test_a_where_on_text_without_values_is_a_warning_once_per_field():
    loaded = load_text(UNLISTED)
    assert [(d.span.line, d.span.column, d.severity, d.message) for d in loaded.diagnostics] == [
        (5, 34, "warning", UNLISTED_WARNING),
    ]
    assert loaded.plan is not None


def test_declaring_the_values_ends_the_warning():
    text = UNLISTED.replace("kind: text", "kind: {type: text, values: [approval, cancel, refund]}")
    assert problems_of(text) == []


def test_a_text_field_only_excluded_or_only_in_rules_is_not_warned_about():
    text = (
        UNLISTED.replace('where: kind == "approval"}', 'where: kind != "test"}').replace(
            'kind in ["cancel", "refund"]', 'kind not in ["test"]'
        )
        + 'require:\n  - {rule: kind == "a", message: x}\n'
    )
    assert problems_of(text) == []


# --- plan ids --------------------------------------------------------------------------

PLAN_ID_RULE = "may hold only letters, digits, '_', '-' and '.', start with a letter, digit or '_', and be at most 100 characters (it names output files)"


@pytest.mark.parametrize("plan_id", ["../../escaped", "/tmp/x", ".hidden", "-rf", "a b", "x/y", "a\\\\b", "'a:b'", "x" * 101, "''"])
def test_a_plan_id_that_is_not_a_safe_file_name_is_an_error(plan_id):
    found = problems_of(INVOICE.replace("plan: i", f"plan: {plan_id}"))
    assert len(found) == 1 and found[0][:2] == (1, 7), found
    assert found[0][2].endswith(PLAN_ID_RULE)


@pytest.mark.parametrize("plan_id", ["portone-opi", "steppay_seats", "v2.1", "A1", "_draft"])
def test_a_plain_plan_id_is_accepted(plan_id):
    assert problems_of(INVOICE.replace("plan: i", f"plan: {plan_id}")) == []


# --- plan paths that are not regular files --------------------------------------------


def _check(ratecard, *paths):
    return ratecard("check", *map(str, paths))


@pytest.mark.parametrize("kind", ["device", "symlink_to_device", "fifo"])
def test_a_plan_path_that_is_not_a_regular_file_is_refused_without_reading_it(ratecard, tmp_path, kind):
    path = "/dev/zero"
    if kind == "symlink_to_device":
        path = tmp_path / "plan.yaml"
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "plan.yaml"
        os.mkfifo(path)
    started = time.monotonic()
    result = _check(ratecard, path)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"{path}:1:1: error: not a regular file")


def test_a_device_among_the_plans_of_a_folder_is_reported(ratecard, tmp_path):
    (tmp_path / "plan.yaml").write_text(INVOICE, encoding="utf-8")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    result = _check(ratecard, tmp_path)
    assert result.exit_code == 1
    assert f"{tmp_path / 'zero.yaml'}:1:1: error: not a regular file" in result.output


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path, monkeypatch):
    """The size is checked on what was read, not only on what stat said."""
    path = tmp_path / "plan.yaml"
    path.write_text(INVOICE + "# " + "x" * 200 + "\n", encoding="utf-8")
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(loader.os, "fstat", lambda fd: os_stat_small(fd))
    found = loader.load_plan(path).diagnostics
    assert [(d.span.line, d.message) for d in found] == [(1, "plan file is larger than 100 bytes")]


def os_stat_small(fd):
    real = os.stat(fd)
    return type("Stat", (), {"st_mode": real.st_mode, "st_size": 10})()


def test_the_json_schema_holds_the_plan_id_rule():
    validator = jsonschema.Draft202012Validator(json_schema())
    assert list(validator.iter_errors({"plan": "portone-opi", "currency": "KRW"})) == []
    assert [e.json_path for e in validator.iter_errors({"plan": "../../escaped", "currency": "KRW"})] == ["$.plan"]


# --- a key written in the wrong place ------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "needle", "message"),
    [
        (
            "discounts:\n  support: {model: flat, percent: 10%}\n",
            "model",
            "unknown key 'model' in discounts.support: `model` belongs to a charge, not to a discount",
        ),
        (
            "taxes:\n  vat: {rate: 10%, applies_to: [base]}\n",
            "applies_to",
            "unknown key 'applies_to' in taxes.vat: `applies_to` belongs to a discount, not to a tax",
        ),
        (
            "  extra: {model: flat, amount: 1 KRW, unit_price: 2}\n",
            "unit_price",
            "unknown key 'unit_price' in charges.extra: `unit_price` belongs to a per_unit charge or a tier, not to a flat charge",
        ),
        ("model: flat\n", "model", "unknown key 'model' in the plan: `model` belongs to a charge, not to the top of the plan"),
        (
            "usage:\n  kind: {type: text, where: x}\n",
            "where",
            "unknown key 'where' in usage.kind: `where` belongs to a percentage charge or a metric, not to a usage field",
        ),
    ],
)
def test_a_key_of_another_part_says_where_it_belongs(extra, needle, message):
    text = INVOICE + extra
    row = next(number for number, line in enumerate(text.splitlines(), 1) if needle in line and "base: {model" not in line)
    found = problems_of(text)
    assert [p for p in found if p[0] == row] == [(row, text.splitlines()[row - 1].index(needle + ":") + 1, message)], found


def test_a_misspelled_key_still_gets_the_nearest_key():
    found = problems_of(INVOICE + "discounts:\n  d: {percnt: 10%}\n")
    assert (6, 7, "unknown key 'percnt' in discounts.d; did you mean 'percent'?") in found


# --- warnings beside errors --------------------------------------------------------------

CLIFF_AND_ERROR = """\
plan: w
currency: KRW
usage: {units: integer}
metrics:
  units: {sum: units}
charges:
  storage:
    model: volume
    on: units
    tiers:
      - {below: 1000, unit_price: 10}
      - {unit_price: 5}
  broken: {model: flat, amount: nett}
"""


def test_warnings_are_shown_even_when_there_are_errors(ratecard):
    found = [(line, message[:40]) for line, _, message in problems_of(CLIFF_AND_ERROR)]
    assert found == [(12, "at 1000 the charge 'storage' drops from "), (13, "unknown name 'nett' in charge 'broken'")]
    result = _check_text(ratecard, CLIFF_AND_ERROR)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "failed: 1 plan file(s), 1 error(s), 1 warning(s)"


def test_no_warning_comes_from_a_part_that_has_an_error():
    """A tier table with an error is checked no further: its warnings would be about a table that is not the one written."""
    text = CLIFF_AND_ERROR.replace("- {unit_price: 5}", "- {below: 1000, unit_price: 5}\n      - {unit_price: 20}")
    assert [message[:30] for _, _, message in problems_of(text)] == ["tier bounds must increase: 100", "unknown name 'nett' in charge "]


def _check_text(ratecard, text: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.yaml"
        path.write_text(text, encoding="utf-8")
        return _check(ratecard, path)


WORDS = st.sampled_from(["a", "A", "b", "bb", "c", "가", "a b"])
PLACES = st.sampled_from(
    [
        ("metrics:\n  m: {{count: true, where: '{e}'}}\n", "kind"),
        ("discounts:\n  d: {{percent: 10%, when: '{e}'}}\n", "customer.segment"),
        ("require:\n  - {{rule: '{e}', message: x}}\n", "kind"),
        ("notices:\n  n: {{when: '{e}', message: x}}\n", "customer.segment"),
    ]
)


@settings(max_examples=120, deadline=None)
@given(
    values=st.lists(WORDS, min_size=1, max_size=3, unique=True),
    literal=WORDS,
    op=st.sampled_from(["==", "!=", "in", "not in"]),
    place=PLACES,
)
def test_any_text_against_any_declared_values(values, literal, op, place):
    """A comparison is refused exactly when its text is not a declared value, wherever it is written."""
    body, name = place
    shown = "[" + ", ".join(f'"{v}"' for v in values) + "]"
    text = (
        f"plan: p\ncurrency: KRW\nusage:\n  kind: {{type: text, values: {shown}}}\n"
        f"customer:\n  segment: {{type: text, values: {shown}}}\n"
        "charges:\n  base: {model: flat, amount: 1 KRW}\n"
    )
    right = f'["{literal}"]' if op in ("in", "not in") else f'"{literal}"'
    text += body.format(e=f"{name} {op} {right}")
    found = problems_of(text)
    assert bool(found) == (literal not in values), (text, found)
    if found:
        assert found[0][2].startswith(f"{literal!r} is not one of the values of {name}")
