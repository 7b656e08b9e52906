"""The balances file: where one run's credits and carried discounts end, and the next run starts.

A credit (a deposit, points) or a `carry: true` discount holds a balance per
customer. Within one command the documents hand it on period after period;
between runs it travels in a CSV file, one row per customer and id:

    customer,id,currency,balance
    acme,deposit,KRW,46100

`rate --balances FILE` starts each customer from the file (a customer or id
it does not list starts from the plan's `balance:`), and `--balances-out
FILE` writes the closing balances: every row of the opening file, updated by
what this run's documents left. An estimate (`--as-of`) or a run with failed
documents closes nothing (`unclosed_reason`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from dsl import tree
from dsl.loader import read_input
from dsl.rounding import money_text
from dsl.types import NUMBER
from dsl.values import ValueProblem, convert
from interpreter.pricing.customers import MAX_CSV_BYTES

COLUMNS = ("customer", "id", "currency", "balance")


class BalanceProblem(Exception):
    """A balances file that cannot be read or does not fit the plan; the message says where."""


@dataclass(frozen=True)
class Balance:
    """What a customer holds of one credit or carried discount."""

    customer: str
    id: str
    currency: str
    amount: Decimal
    where: str = field(default="", compare=False)  # file:line it was read from, for messages


Balances = dict[tuple[str, str], Balance]  # keyed by (customer, id)


def read_balances(path: str) -> Balances:
    """Every balance of a balances file, checked for its currency's digits; BalanceProblem otherwise."""
    from babel.numbers import get_currency_precision, list_currencies

    if Path(path).is_dir():
        raise BalanceProblem(f"{path}: a folder, not a balances file")
    try:
        # a regular file only, read without waiting on a pipe, up to the limit
        content = read_input(path, "balances file", MAX_CSV_BYTES).decode("utf-8-sig")  # spreadsheets write a byte-order mark
    except FileNotFoundError:
        raise BalanceProblem(f"{path}: no such balances file") from None
    except UnicodeDecodeError as exc:
        raise BalanceProblem(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as problem:  # not a regular file, too large
        raise BalanceProblem(f"{path}: {problem}") from None
    except OSError as exc:
        raise BalanceProblem(f"{path}: cannot read the balances file: {exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    if reader.fieldnames is None or not set(COLUMNS) <= set(reader.fieldnames):
        raise BalanceProblem(f"{path}: a balances file needs the columns {', '.join(COLUMNS)}")
    out: Balances = {}
    known = list_currencies()
    for number, record in enumerate(reader, 2):
        where = f"{path}:{number}"
        customer, key, currency = ((record.get(c) or "").strip() for c in COLUMNS[:3])
        for name, value in (("customer", customer), ("id", key), ("currency", currency)):
            if not value:
                raise BalanceProblem(f"{where}: missing {name}")
        if currency not in known:
            raise BalanceProblem(f"{where}: unknown currency {currency!r} (use an ISO 4217 code such as KRW or USD)")
        try:
            amount = convert(record.get("balance") or "", NUMBER)
        except ValueProblem as problem:
            raise BalanceProblem(f"{where}: {problem}") from None
        digits = get_currency_precision(currency)
        if -amount.as_tuple().exponent > digits:
            raise BalanceProblem(f"{where}: {record['balance'].strip()} has more decimals than {currency} has ({digits})")
        if (customer, key) in out:
            first = out[(customer, key)].where.rpartition(":")[2]
            raise BalanceProblem(f"{where}: a second balance {key!r} for customer {customer!r} (first on line {first})")
        out[(customer, key)] = Balance(customer, key, currency, amount, where)
    return out


def check(balances: Balances, versions: Iterable[tree.Plan]) -> None:
    """Raise BalanceProblem for a balance that a plan carries in another currency."""
    for plan in versions:
        ids = {c.id for c in plan.credits} | {d.id for d in plan.discounts if d.carry}
        for balance in balances.values():
            if balance.id in ids and balance.currency != plan.currency:
                raise BalanceProblem(
                    f"{balance.where}: balance {balance.id!r} of customer {balance.customer!r} is in "
                    f"{balance.currency}; plan {plan.id!r} bills in {plan.currency}"
                )


def by_customer(balances: Balances) -> dict[str, dict[str, Decimal]]:
    """The opening balances of each customer, by id, as documents are built from them."""
    out: dict[str, dict[str, Decimal]] = {}
    for (customer, key), balance in balances.items():
        out.setdefault(customer, {})[key] = balance.amount
    return out


def closing_balances(opening: Mapping[tuple[str, str], Balance], carried: Mapping[tuple[str, str], Balance]) -> list[Balance]:
    """The balances to start the next run from: the opening ones, updated by what the documents left.

    `carried` is a rating's `carried` (`RateResult.carried`). Check
    `unclosed_reason` first: an estimate or a run with failures closes nothing.
    """
    merged = {**opening, **carried}
    return [merged[key] for key in sorted(merged)]


def unclosed_reason(estimate: bool, failures: int) -> str | None:
    """Why a run's closing balances must not be written, or None when they may be."""
    if estimate:
        return "an estimate (--as-of) does not close balances: the period is still open"
    if failures:
        return f"{failures} document(s) were not rated, so the balances they would have used are unknown"
    return None


def balances_csv(balances: Iterable[Balance]) -> str:
    """The balances file's text; amounts with their currency's digits."""
    from babel.numbers import get_currency_precision

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for b in balances:
        writer.writerow((b.customer, b.id, b.currency, money_text(b.amount, get_currency_precision(b.currency))))
    return out.getvalue()


def write_balances(path: str, balances: Iterable[Balance]) -> None:
    Path(path).write_text(balances_csv(balances), encoding="utf-8")


def write_closing(path: str, opening: Balances, carried: Balances, failures: list) -> str | None:
    """Write a rating's closing balances to `path`; or, when they must not be, leave it and say why."""
    reason = unclosed_reason(False, len(failures))
    if reason is None:
        write_balances(path, closing_balances(opening, carried))
    return reason
