"""Plan mistakes that used to pass `check` and bill wrong without a word: each is now an error
or a warning at its line and column.
"""

from __future__ import annotations

import pytest

from conftest import problems_of

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


@pytest.mark.parametrize(("extra", "line", "message"), [
    ("taxes:\n  vat: {rate: 10%}\n", 12,
     "a settlement plan has no `taxes:`; compute the tax as a line (e.g. `vat: {value: revenue * 10%, rounding: down}`) and take it off the total line"),
    ("discounts:\n  promo: {percent: 10%}\n", 12,
     "a settlement plan has no `discounts:`; write the deduction as a line and take it off the total line"),
    ("minimum: 50_000 KRW\n", 12, "a settlement plan has no `minimum:`; write it into the line, e.g. max(50_000 KRW, ...)"),
])
def test_invoice_keys_in_a_settlement_plan_are_errors(extra, line, message):
    assert problems_of(SETTLEMENT + extra) == [(line, 1, message)]


def test_total_in_an_invoice_plan_is_an_error():
    assert problems_of(INVOICE + "total: base\n") == [
        (5, 1, "`total:` names the total line of a settlement plan; an invoice's total is its subtotal plus taxes"),
    ]
