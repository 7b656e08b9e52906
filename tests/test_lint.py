"""Semantic checks (dsl/lint.py): plans that compile but look wrong, each with its line.

Every check has a small plan that triggers it, asserted by line, severity
and message, and a near twin that does not. `ratecard check` reports them
like any other problem: warnings keep exit status 0, errors make it 1.
"""

from __future__ import annotations

import textwrap

import pytest

from plan_helpers import PLANS, load_text

HEAD = """\
plan: lint
currency: KRW
usage: {units: integer, amount: money}
metrics:
  units: {sum: units}
  volume: {sum: amount}
"""

LINT_CODES = {"never", "percent", "decrease", "unreachable", "exceeds"}


def findings(body: str) -> list[tuple[int, str, str]]:
    """(line, severity, message) of every semantic finding; the plan must otherwise be clean."""
    text = HEAD + textwrap.dedent(body)
    loaded = load_text(text)
    others = [d for d in loaded.diagnostics if d.code not in LINT_CODES]
    assert others == [], others
    return [(d.span.line, d.severity, d.message) for d in loaded.diagnostics]


def line_of(body: str, needle: str) -> int:
    """The plan line holding `needle` (exactly one)."""
    lines = (HEAD + textwrap.dedent(body)).splitlines()
    hits = [number for number, line in enumerate(lines, 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


# --- volume cliffs ---------------------------------------------------------------------

CLIFF = """\
charges:
  storage:
    model: volume
    on: volume
    tiers:
      - {below: 1000, unit_price: 10}
      - {unit_price: 5}
"""


def test_volume_cliff_is_a_warning_at_the_tier_where_the_bill_drops():
    assert findings(CLIFF) == [
        (
            line_of(CLIFF, "unit_price: 5"),
            "warning",
            "at 1000 the charge 'storage' drops from 10000 to 5000 when usage enters this tier: "
            "more usage, smaller bill (add `allow_decrease: true` if intended)",
        )
    ]


def test_volume_cliff_marked_as_intended_is_quiet():
    assert findings(CLIFF.replace("model: volume", "model: volume\n    allow_decrease: true")) == []


def test_volume_table_whose_flat_fees_rise_has_no_cliff():
    assert (
        findings("""\
        charges:
          storage:
            model: volume
            on: volume
            tiers:
              - {below: 1000, unit_price: 10}
              - {unit_price: 5, flat: 5000}
    """)
        == []
    )  # at 1000: 10 x 1000 = 10,000 before, 5 x 1000 + 5,000 = 10,000 after


def test_volume_cliff_from_flat_fees_on_an_inclusive_bound():
    body = """\
        charges:
          fee:
            model: volume
            on: units
            tiers:
              - {up_to: 10, flat: 300}
              - {flat: 200}
    """
    assert findings(body) == [
        (
            line_of(body, "flat: 200"),
            "warning",
            "at 10 the charge 'fee' drops from 300 to 200 when usage enters this tier: "
            "more usage, smaller bill (add `allow_decrease: true` if intended)",
        )
    ]


def test_the_shipped_plans_have_no_findings(ratecard):
    result = ratecard("check", str(PLANS))
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


# --- negative prices ---------------------------------------------------------------------


def test_negative_unit_price_is_a_warning_on_the_charge():
    body = """\
        charges:
          rebate:
            model: per_unit
            on: units
            unit_price: -3
    """
    assert findings(body) == [(line_of(body, "rebate:"), "warning", "charge 'rebate' has a negative price: more usage lowers the charge")]
    assert findings(body.replace("-3", "3")) == []


def test_negative_package_price():
    body = """\
        charges:
          packs:
            model: package
            on: units
            package_size: 100
            package_price: -1000
    """
    assert findings(body) == [(line_of(body, "packs:"), "warning", "charge 'packs' has a negative price: more usage lowers the charge")]
    assert findings(body.replace("-1000", "1000")) == []


def test_negative_graduated_tier():
    body = """\
        charges:
          calls:
            model: graduated
            on: units
            tiers:
              - {up_to: 100, unit_price: 2}
              - {unit_price: -1}
    """
    assert findings(body) == [
        (line_of(body, "unit_price: -1"), "warning", "tier 2 of 'calls' has a negative price: more usage lowers the charge")
    ]
    assert findings(body.replace("unit_price: -1", "unit_price: 1")) == []
    assert findings(textwrap.dedent(body).replace("model: graduated", "model: graduated\n    allow_decrease: true")) == []


# --- tiers that cannot be reached, tiers that overlap -----------------------------------------


def test_tier_a_whole_number_cannot_reach():
    body = """\
        charges:
          seats:
            model: graduated
            on: units
            tiers:
              - {below: 10.2, unit_price: 1}
              - {up_to: 10.5, unit_price: 2}
              - {unit_price: 3}
    """
    assert findings(body) == [
        (line_of(body, "up_to: 10.5"), "warning", "tier 2 of 'seats' can never be reached: the quantity is a whole number")
    ]


def test_same_bounds_on_a_money_quantity_are_reachable():
    assert (
        findings("""\
        charges:
          fee:
            model: graduated
            on: volume
            tiers:
              - {below: 10.2, unit_price: 1}
              - {up_to: 10.5, unit_price: 2}
              - {unit_price: 3}
    """)
        == []
    )


def test_whole_number_tiers_that_hold_one_value_are_reachable():
    # below 10 holds 0..9; up_to 10 holds exactly 10; below 11 would hold nothing more.
    body = """\
        charges:
          seats:
            model: graduated
            on: units
            tiers:
              - {below: 10, unit_price: 1}
              - {up_to: 10, unit_price: 2}
              - {below: 11, unit_price: 3}
              - {unit_price: 4}
    """
    assert findings(body) == [
        (line_of(body, "below: 11"), "warning", "tier 3 of 'seats' can never be reached: the quantity is a whole number")
    ]


def test_tiers_that_overlap_are_an_error_with_the_line():
    body = """\
        charges:
          fee:
            model: graduated
            on: units
            tiers:
              - {up_to: 100, unit_price: 2}
              - {up_to: 50, unit_price: 1}
              - {unit_price: 1}
    """
    loaded = load_text(HEAD + textwrap.dedent(body))
    assert loaded.plan is None
    assert [(d.span.line, d.severity) for d in loaded.diagnostics] == [(line_of(body, "up_to: 50"), "error")]
    assert "tier bounds must increase" in loaded.diagnostics[0].message


# --- conditions that are always false ----------------------------------------------------------

NEVER = """\
charges:
  setup:
    model: flat
    amount: 100
    when: {charge}
discounts:
  launch:
    percent: 10%
    when: {discount}
taxes:
  vat:
    rate: 10%
    when: {tax}
notices:
  big:
    message: big month
    when: {notice}
"""


def test_when_always_false_for_charges_discounts_taxes_and_notices():
    body = NEVER.format(charge="1 > 2", discount="false", tax="units < 0 and false", notice="not true and units > 0")
    assert findings(body) == [
        (line_of(body, "when: 1 > 2"), "warning", "charge 'setup' is never charged: its `when` is always false"),
        (line_of(body, "when: false"), "warning", "discount 'launch' never applies: its `when` is always false"),
        (line_of(body, "when: units < 0"), "warning", "tax 'vat' never applies: its `when` is always false"),
        (line_of(body, "when: not true"), "warning", "notice 'big' is never shown: its `when` is always false"),
    ]


def test_when_that_can_be_true_is_quiet():
    body = NEVER.format(charge="units > 2", discount="true", tax="2024-01-01 < 2025-01-01", notice="units > 0 or false")
    assert findings(body) == []


def test_always_false_when_points_at_the_condition():
    loaded = load_text(HEAD + NEVER.format(charge="1 > 2", discount="true", tax="true", notice="true"))
    (finding,) = loaded.diagnostics
    assert (finding.span.line, finding.span.column) == (11, 11)  # `    when: 1 > 2`, at the `1`


# --- discounts -------------------------------------------------------------------------

FLAT = """\
charges:
  base: {model: flat, amount: 1000}
  extra: {model: flat, amount: 500}
discounts:
"""


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        ("120%", "discount 'big' takes 120% off: more than the charge itself"),
        ("100.5%", "discount 'big' takes 100.5% off: more than the charge itself"),
        ("-5%", "discount 'big' is negative (-5%): use a charge to add money"),
    ],
)
def test_discount_percent_above_100_or_negative_is_an_error(percent, expected):
    body = FLAT + f"  big: {{percent: {percent}}}\n"
    loaded = load_text(HEAD + body)
    assert loaded.plan is None
    assert [(d.span.line, d.severity, d.message) for d in loaded.diagnostics] == [(line_of(body, "big:"), "error", expected)]


@pytest.mark.parametrize("percent", ["100%", "0%", "33.3%"])
def test_discount_percent_within_0_to_100_is_quiet(percent):
    assert findings(FLAT + f"  big: {{percent: {percent}}}\n") == []


def test_fixed_discount_above_the_flat_charges_it_applies_to():
    body = FLAT + "  welcome: {amount: 1200, applies_to: [base]}\n"
    assert findings(body) == [
        (
            line_of(body, "welcome:"),
            "warning",
            "discount 'welcome' (1200) is more than the charges it applies to (1000); it is capped at zero",
        )
    ]
    assert findings(FLAT + "  welcome: {amount: 1000, applies_to: [base]}\n") == []
    assert findings(FLAT + "  welcome: {amount: 1200}\n") == []  # both charges: 1,500


def test_fixed_discount_against_a_repeated_flat_charge():
    # An annual fee of 12 x 100: a 500 discount takes 500 of 1,200.
    body = """\
        charges:
          annual: {model: flat, amount: 100, multiplier: 12}
        discounts:
          loyalty: {amount: DISCOUNT}
    """
    assert findings(body.replace("DISCOUNT", "500")) == []
    assert findings(body.replace("DISCOUNT", "1500")) == [
        (
            line_of(body, "loyalty:"),
            "warning",
            "discount 'loyalty' (1500) is more than the charges it applies to (1200); it is capped at zero",
        )
    ]


def test_fixed_discount_counts_no_memo_line():
    # A memo line is shown, not charged, and never discounted: only the 100 base fee is.
    body = """\
        charges:
          base: {model: flat, amount: 100}
          list_price: {model: flat, amount: 1000, memo: true}
        discounts:
          welcome: {amount: 500}
    """
    assert findings(body) == [
        (
            line_of(body, "welcome:"),
            "warning",
            "discount 'welcome' (500) is more than the charges it applies to (100); it is capped at zero",
        )
    ]


def test_fixed_discount_on_a_charge_that_varies_is_not_judged():
    assert (
        findings("""\
        charges:
          calls: {model: per_unit, on: units, unit_price: 10}
          setup: {model: flat, amount: 100, when: units > 5}
        discounts:
          welcome: {amount: 1_000_000}
    """)
        == []
    )


# --- percentage charges ----------------------------------------------------------------------

PERCENTAGE = """\
charges:
  fee:
    model: percentage
    on: amount
    rate: RATE
"""


def test_percentage_rate_above_100_is_a_warning():
    body = PERCENTAGE.replace("RATE", "150%")
    assert findings(body) == [(line_of(body, "fee:"), "warning", "charge 'fee' takes 150% of each event: more than the event itself")]


@pytest.mark.parametrize("rate", ["100%", "3.3%"])
def test_percentage_rate_up_to_100_is_quiet(rate):
    assert findings(PERCENTAGE.replace("RATE", rate)) == []


# --- through the command line ----------------------------------------------------------------


def test_check_prints_warnings_with_exit_0_and_errors_with_exit_1(ratecard, tmp_path):
    warned = tmp_path / "warned.yaml"
    warned.write_text(HEAD + CLIFF, encoding="utf-8")
    result = ratecard("check", str(warned))
    assert result.exit_code == 0
    assert f"{warned}:13:9: warning: at 1000 the charge 'storage' drops" in result.output
    assert "ok: 1 plan file(s), 0 error(s), 1 warning(s)" in result.output

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(HEAD + FLAT + "  big: {percent: 120%}\n", encoding="utf-8")
    result = ratecard("check", str(wrong))
    assert result.exit_code == 1
    assert f"{wrong}:11:18: error: discount 'big' takes 120% off" in result.output
