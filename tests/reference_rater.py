"""A tiny reference rater, written apart from the engine, to cross-check it.

It reads a CSV ledger with the `csv` module and applies the semantics the
README documents (Writing plans) to a restricted family of plans, in plain Python
`Decimal`, without DuckDB and without importing anything from `interpreter/`
(plans are loaded with `dsl`, which both share). The family:

- usage fields of type money, number, integer, bool and text (with `values:`
  and defaults); `require:` rules; duplicate event ids;
- metrics `count` and `sum` with a `where:` over the row, and derived metrics
  using + - *;
- charges `flat`, `per_unit`, `graduated`, `volume`, `package` (no `when:`),
  with block tiers, a charge's own `minimum:` and `maximum:`, and `group_by:`
  with `prices:` (a group no entry prices rejects its rows); `percentage`
  charges priced event by event in time order, with `free_events:` and
  `free_amount:`;
- unconditional discounts, by percent or by a fixed amount (optionally
  `carry: true`), a `minimum`, taxes; credits with a fixed balance and no
  `when:`; no notices of the plan's own;
- a monthly plan rated for one `YYYY-MM` period, or for several months in a
  row, where credits and carried discounts pass on what each month left;
- customers with subscriptions (plan id or None from a date on) and a trial:
  one document per window of the plan in each month, usage or not, `flat`
  charges times the window's days outside the trial over the month's days;
  their rows on a day they are on no plan (before the first subscription,
  after a cancellation) are rejected rows.

`rate_csv` returns what `ratecard rate --format json` prints for such a plan:
the document dicts, and the rejected rows' numbers.
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from dsl import tree

ROUNDING = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP}
NUMBER = re.compile(r"[-+]?\d(_?\d)*(\.\d(_?\d)*)?")
INTEGER = re.compile(r"[-+]?\d(_?\d)*(\.0+)?")  # 5.00 is whole
ZERO = Decimal(0)


class Unsupported(Exception):
    """The plan uses something outside the reference rater's family."""


def check_family(plan: tree.Plan) -> None:
    """Raise Unsupported unless the reference rater can rate `plan`."""
    if plan.kind != "invoice" or plan.period != "month":
        raise Unsupported("only monthly invoices")
    if plan.notices or plan.quota is not None or plan.customer:
        raise Unsupported("no notices, quota or customer attributes")
    if any(not isinstance(c.balance, tree.Const) or c.when is not None for c in plan.credits):
        raise Unsupported("credits with a fixed balance only")
    for f in plan.fields:
        if f.type.kind not in ("money", "number", "integer", "bool", "text"):
            raise Unsupported(f"field type {f.type.kind}")
    for m in plan.metrics:
        if m.aggregation not in (None, "count", "sum"):
            raise Unsupported(f"aggregation {m.aggregation}")
        if m.aggregation == "sum" and not m.field:
            raise Unsupported("sum of a row expression")
    for charge in plan.charges:
        if charge.model not in ("flat", "per_unit", "graduated", "volume", "package", "percentage"):
            raise Unsupported(f"model {charge.model}")
        if charge.when is not None or getattr(charge, "multiplier", None) is not None or getattr(charge, "memo", False):
            raise Unsupported("charge options")
    if any(d.when is not None or not isinstance(d.amount or d.percent, tree.Const) for d in plan.discounts):
        raise Unsupported("unconditional discounts of a fixed percent or amount")
    if any(getattr(t, "when", None) is not None for t in plan.taxes):
        raise Unsupported("conditional taxes")


# -- expressions -----------------------------------------------------------------


def evaluate(expr: tree.Expr, names: dict[tuple[str, str], Any]) -> Any:
    """Row conditions and metric arithmetic: constants, names, + - *, comparisons, and/or/not, in."""
    if isinstance(expr, tree.Const):
        return expr.value
    if isinstance(expr, tree.Ref):
        return names[(expr.scope, expr.name)]
    if isinstance(expr, tree.Unary):
        value = evaluate(expr.operand, names)
        return (not value) if expr.op == "not" else -value
    if isinstance(expr, tree.In):
        value = evaluate(expr.operand, names)
        return any(value == evaluate(o, names) for o in expr.options) != expr.negated
    if isinstance(expr, tree.Binary):
        if expr.op == "and":
            return bool(evaluate(expr.left, names)) and bool(evaluate(expr.right, names))
        if expr.op == "or":
            return bool(evaluate(expr.left, names)) or bool(evaluate(expr.right, names))
        a, b = evaluate(expr.left, names), evaluate(expr.right, names)
        operations = {
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "==": lambda: a == b,
            "!=": lambda: a != b,
            "<": lambda: a < b,
            "<=": lambda: a <= b,
            ">": lambda: a > b,
            ">=": lambda: a >= b,
        }
        if expr.op not in operations:
            raise Unsupported(f"operator {expr.op}")
        with localcontext() as ctx:
            ctx.prec = 60
            return operations[expr.op]()
    raise Unsupported(type(expr).__name__)


# -- reading the ledger ------------------------------------------------------------


def read_value(cell: str | None, field: tree.Field) -> tuple[Any, str | None]:
    """(value, None) or (None, reason)."""
    kind = field.type.kind
    text = (cell or "") if kind == "text" else (cell or "").strip()
    if text == "":
        if field.default is None:
            return None, f"missing {field.name}"
        return field.default, None
    if kind in ("money", "number"):
        if not NUMBER.fullmatch(text):
            return None, f"bad {field.name}"
        value = Decimal(text.replace("_", ""))
        if value.as_tuple().exponent < -10:
            return None, f"bad {field.name}"
        return value, None
    if kind == "integer":
        if not INTEGER.fullmatch(text):
            return None, f"bad {field.name}"
        return Decimal(text.replace("_", "")).quantize(Decimal(1)), None
    if kind == "bool":
        if text.lower() not in ("true", "false", "1", "0"):
            return None, f"bad {field.name}"
        return text.lower() in ("true", "1"), None
    if field.values is not None and text not in field.values:
        return None, f"{field.name} not allowed"
    return text, None


def instant(text: str, zone: ZoneInfo) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def local_date(text: str, zone: ZoneInfo) -> datetime.date | None:
    moment = instant(text, zone)
    return None if moment is None else moment.astimezone(zone).date()


def read_ledger(plan: tree.Plan, path: str) -> tuple[list[dict], list[int]]:
    """Accepted rows (typed, with `customer`, local `date` and their row number) and rejected row numbers."""
    zone = ZoneInfo(plan.timezone)
    accepted, rejected, seen = [], [], set()
    with open(path, newline="", encoding="utf-8") as handle:
        for number, cells in enumerate(csv.DictReader(handle), 1):
            event_id = (cells.get("event_id") or "").strip()
            customer = (cells.get("customer") or "").strip()
            stamp = (cells.get("timestamp") or "").strip()
            problems = []
            if not event_id:
                problems.append("missing event_id")
            elif event_id in seen:
                problems.append("duplicate event_id")
            if event_id:
                seen.add(event_id)
            if not customer:
                problems.append("missing customer")
            day = local_date(stamp, zone) if stamp else None
            if day is None:
                problems.append("bad timestamp")
            row: dict[tuple[str, str], Any] = {("field", "event_id"): event_id, ("field", "customer"): customer, ("field", "date"): day}
            row[("row", "instant")] = instant(stamp, zone) if day is not None else None
            row[("row", "number")] = number
            for field in plan.fields:
                value, problem = read_value(cells.get(field.name), field)
                row[("field", field.name)] = value
                if problem:
                    problems.append(problem)
            if not problems:
                problems += [rule.message for rule in plan.rules if not evaluate(rule.test, row)]
            if not problems:
                problems += [f"no price for {c.id}" for c in plan.charges if c.group_by and entry_of(c, group_values(c, row)) is None]
            if problems:
                rejected.append(number)
            else:
                accepted.append(row | {("row", "number"): number})
    return accepted, rejected


# -- pricing -----------------------------------------------------------------------


def reaches(quantity: Decimal, tier: tree.Tier) -> bool:
    """Whether `quantity` goes past `tier`'s bound (and so reaches the next tier)."""
    return quantity > tier.bound if tier.inclusive else quantity >= tier.bound


def holds(tier: tree.Tier, quantity: Decimal) -> bool:
    if tier.bound is None:
        return True
    return quantity <= tier.bound if tier.inclusive else quantity < tier.bound


def in_tier(tier: tree.Tier, units: Decimal) -> Decimal:
    """What `units` cost in a tier: per unit, or per started block."""
    if tier.block is None:
        return units * tier.unit_price + tier.flat
    return math.ceil(Fraction(max(units, ZERO)) / Fraction(tier.block)) * tier.block_price + tier.flat


def bounded(charge: tree.Charge, amount: Decimal) -> Decimal:
    if charge.minimum is not None and amount < charge.minimum:
        return charge.minimum
    if charge.maximum is not None and amount > charge.maximum:
        return charge.maximum
    return amount


def price(charge: tree.Charge, quantity: Decimal) -> Decimal:
    zero = ZERO
    if charge.model == "per_unit":
        return max(quantity - charge.free_units, zero) * charge.unit_price
    if charge.model == "volume":
        tier = next(t for t in charge.tiers if holds(t, quantity))
        return in_tier(tier, max(quantity, zero))
    if charge.model == "package":
        billable = Fraction(max(quantity - charge.free_units, zero))
        return math.ceil(billable / Fraction(charge.package_size)) * charge.package_price
    if charge.model == "graduated":
        total, floor = zero, zero
        for index, tier in enumerate(charge.tiers):
            if index and not reaches(quantity, charge.tiers[index - 1]):
                break
            ceiling = quantity if tier.bound is None else min(quantity, tier.bound)
            total += in_tier(tier, max(ceiling - floor, zero))
            if tier.bound is not None:
                floor = max(floor, tier.bound)
        return total
    raise Unsupported(charge.model)


def percentage(charge: tree.Charge, rows: list[dict]) -> Decimal:
    """Each event's fee in time order (ties in ledger order), the free ones skipped, the crossing one on its part."""
    chosen = [r for r in rows if charge.where is None or evaluate(charge.where, r)]
    chosen.sort(key=lambda r: (r[("row", "instant")], r[("row", "number")]))
    total, count, running = ZERO, 0, ZERO
    for r in chosen:
        amount = r[("field", charge.field)]
        count += 1
        before, running = running, running + amount
        counted = charge.free_events is None or count <= charge.free_events
        if (charge.free_events is not None or charge.free_amount is not None) and counted:
            if charge.free_amount is None or running <= charge.free_amount:
                continue  # a free event
            if before < charge.free_amount:
                amount = running - charge.free_amount
        fee = amount * charge.rate + charge.fixed_fee
        if charge.min_fee is not None:
            fee = max(fee, charge.min_fee)
        if charge.max_fee is not None:
            fee = min(fee, charge.max_fee)
        total += fee
    return total


# -- groups ------------------------------------------------------------------------


def group_values(charge: tree.Charge, row: dict) -> tuple:
    return tuple(row[("field", name)] for name in charge.group_by)


def entry_of(charge: tree.Charge, values: tuple) -> tree.Charge | None:
    """The charge that prices a group: the first entry matching it, else the charge's own keys (if it has them)."""
    named = dict(zip(charge.group_by, values, strict=True))
    for entry in charge.prices:
        if all(named[name] == value for name, value in entry.match):
            return entry.charge
    return charge if charge.default else None


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


# -- documents ---------------------------------------------------------------------


def to_minor(value: Decimal, digits: int, mode: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80
        return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUNDING[mode])


def money(value: Decimal, digits: int) -> str:
    shown = format(value.quantize(Decimal(1).scaleb(-digits)), "f")
    return shown[1:] if shown.startswith("-") and Decimal(shown) == 0 else shown


def quantity_text(value: Decimal) -> str:
    """As documents show quantities: exact, at most 6 decimal places, no trailing zeros."""
    if value.as_tuple().exponent < -6:
        value = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def rate_text(rate: Decimal) -> str:
    shown = format(rate.normalize(), "f")
    decimals = len(shown.partition(".")[2])
    return format(rate.quantize(Decimal("0.01")), "f") if decimals < 2 else shown


def month_bounds(month: str) -> tuple[datetime.date, datetime.date]:
    year, number = (int(part) for part in month.split("-"))
    first = datetime.date(year, number, 1)
    following = datetime.date(year + number // 12, number % 12 + 1, 1)
    return first, following - datetime.timedelta(days=1)


def metrics(plan: tree.Plan, rows: list[dict]) -> dict[tuple[str, str], Any]:
    names: dict[tuple[str, str], Any] = {}
    for metric in plan.metrics:
        if metric.aggregation is None:
            names[("metric", metric.name)] = evaluate(metric.expression, names)
            continue
        chosen = [r for r in rows if metric.where is None or evaluate(metric.where, r)]
        if metric.aggregation == "count":
            names[("metric", metric.name)] = Decimal(len(chosen))
        else:
            names[("metric", metric.name)] = sum((r[("field", metric.field)] for r in chosen), ZERO)
    return names


def priced_line(
    charge: tree.Charge, line_id: str, description: str, names: dict, rows: list[dict], digits: int, share: Fraction = Fraction(1)
) -> dict:
    """One line; `share` is the part of the month a flat charge bills (its bounds are the month's, prorated with it)."""
    quantity = None
    if charge.model == "flat":
        unrounded = evaluate(charge.amount, names)
    elif charge.model == "percentage":
        unrounded = percentage(charge, rows)
    else:
        quantity = evaluate(charge.quantity, names)
        unrounded = price(charge, quantity)
    unrounded = bounded(charge, unrounded)
    if charge.model == "flat" and share != 1:
        unrounded = exact(Fraction(unrounded) * share)
    amount = to_minor(unrounded, digits, charge.rounding)
    return {"id": line_id, "description": description, "quantity": None if quantity is None else quantity_text(quantity), "amount": amount}


def document(
    plan: tree.Plan,
    customer: str,
    rows: list[dict],
    first: datetime.date,
    last: datetime.date,
    held: dict[str, Decimal],
    share: Fraction = Fraction(1),
) -> dict:
    """One customer's document for one month (or a window of it); `held` (credit or discount id -> balance)
    is updated; `share` is the part of the month a flat charge bills."""
    digits = plan.minor_digits
    names = metrics(plan, rows)
    lines, charged = [], {}
    for charge in plan.charges:
        if not charge.group_by:
            lines.append(priced_line(charge, charge.id, charge.name, names, rows, digits, share))
            continue
        for values in sorted({group_values(charge, r) for r in rows}):
            mine = [r for r in rows if group_values(charge, r) == values]
            described = ", ".join(f"{n}={shown(v)}" for n, v in zip(charge.group_by, values, strict=True))
            line_id = f"{charge.id}[{','.join(shown(v) for v in values)}]"
            priced = entry_of(charge, values)
            lines.append(priced_line(priced, line_id, f"{charge.name} ({described})", metrics(plan, mine), mine, digits, share))
    for line in lines:
        charged[line["id"]] = line["amount"]
    notices, carried = [], []
    for discount in plan.discounts:
        # each discount takes from what earlier ones left of its charges, charge by charge in order
        targets = [line for c in (discount.applies_to or tuple(charged)) for line in charged if line == c or line.startswith(c + "[")]
        if not targets:
            continue
        base = sum((charged[c] for c in targets), ZERO)
        if discount.percent is not None:
            added = to_minor(base * discount.percent.value, digits, plan.rounding)
        else:
            added = to_minor(discount.amount.value, digits, plan.rounding)
        opening = held.get(discount.id, ZERO) if discount.carry else ZERO
        taken = max(min(opening + added, max(base, ZERO)), ZERO)
        left = taken
        for c in targets:
            part = min(left, max(charged[c], ZERO))
            charged[c] -= part
            left -= part
        if discount.carry:
            held[discount.id] = opening + added - taken
            carried.append(
                {
                    "id": discount.id,
                    "description": discount.name,
                    "opening": money(opening, digits),
                    "added": money(added, digits),
                    "applied": money(taken, digits),
                    "closing": money(held[discount.id], digits),
                }
            )
        elif added > taken:
            notices.append(
                {
                    "id": f"{discount.id}.unused",
                    "message": (
                        f"{discount.name}: {money(added - taken, digits)} of the {money(added, digits)} {plan.currency} discount "
                        f"is more than the charges it applies to ({money(max(base, ZERO), digits)} {plan.currency}) "
                        "and is not carried to a later period."
                    ),
                }
            )
        lines.append({"id": discount.id, "description": discount.name, "quantity": None, "amount": -taken})
    subtotal = sum((line["amount"] for line in lines), ZERO)
    if plan.minimum is not None:
        minimum = to_minor(evaluate(plan.minimum, names), digits, plan.rounding)
        if subtotal < minimum:
            lines.append({"id": "minimum", "description": "Minimum commitment true-up", "quantity": None, "amount": minimum - subtotal})
            subtotal = minimum
    taxes = []
    for tax in plan.taxes:
        taxes.append(
            {
                "id": tax.id,
                "rate": rate_text(tax.rate),
                "base": money(subtotal, digits),
                "amount": to_minor(subtotal * tax.rate, digits, tax.rounding),
            }
        )
    total = subtotal + sum((t["amount"] for t in taxes), ZERO)
    credits = []
    for credit in plan.credits:
        opening = held.get(credit.id)
        if opening is None:
            opening = to_minor(credit.balance.value, digits, plan.rounding)  # the plan's balance: the first time only
        applied = min(max(opening, ZERO), max(total, ZERO))
        total -= applied
        held[credit.id] = opening - applied
        credits.append(
            {
                "id": credit.id,
                "description": credit.name,
                "opening": money(opening, digits),
                "applied": money(applied, digits),
                "closing": money(opening - applied, digits),
            }
        )
    for line in lines:
        line["amount"] = money(line["amount"], digits)
    for tax in taxes:
        tax["amount"] = money(tax["amount"], digits)
    out = {
        "customer": customer,
        "plan": plan.id,
        "kind": "invoice",
        "currency": plan.currency,
        "period": {"start": first.isoformat(), "end": last.isoformat()},
        "lines": lines,
        "subtotal": money(subtotal, digits),
        "taxes": taxes,
        "total": money(total, digits),
        "notices": notices,
    }
    if plan.credits:
        out["credits"] = credits
    if any(d.carry for d in plan.discounts):
        out["carried"] = carried
    return out


def exact(value: Fraction) -> Decimal:
    """A fraction as a Decimal: exact when it ends, else to 60 digits (far past any rounding to a minor unit)."""
    with localcontext() as context:
        context.prec = 60
        return Decimal(value.numerator) / Decimal(value.denominator)


Subscriptions = dict[str, tuple[list[tuple[str | None, datetime.date]], datetime.date | None]]


def windows(plan_id: str, subscriptions: list[tuple[str | None, datetime.date]], first: datetime.date, last: datetime.date):
    """The days of `first`..`last` the customer is on `plan_id`, as (start, end) ranges, day by day."""
    days, day = [], first
    while day <= last:
        current = [p for p, start in subscriptions if start <= day]
        if current and current[-1] == plan_id:
            days.append(day)
        day += datetime.timedelta(days=1)
    ranges: list[list[datetime.date]] = []
    for day in days:
        if ranges and ranges[-1][1] + datetime.timedelta(days=1) == day:
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return [(start, end) for start, end in ranges]


def rate_csv(plan: tree.Plan, path: str, month: str | list[str], subscriptions: Subscriptions | None = None) -> dict:
    """{"documents": [...], "rejected": [row numbers]} for one `YYYY-MM` period, or for several months in a row.

    `subscriptions` gives customers (plan id or None, first day) in date order, and the last day of
    their trial (or None)."""
    check_family(plan)
    months = [month] if isinstance(month, str) else month
    accepted, rejected = read_ledger(plan, path)
    subscriptions = subscriptions or {}
    documents = []
    held: dict[str, dict[str, Decimal]] = {}
    for first, last in (month_bounds(m) for m in months):
        by_customer: dict[str, list[dict]] = {}
        for row in accepted:
            if first <= row[("field", "date")] <= last and row[("field", "customer")] not in subscriptions:
                by_customer.setdefault(row[("field", "customer")], []).append(row)
        documents += [document(plan, c, by_customer[c], first, last, held.setdefault(c, {})) for c in sorted(by_customer)]
        month_days = (last - first).days + 1
        for customer, (subs, trial_until) in sorted(subscriptions.items()):
            for start, end in windows(plan.id, subs, first, last):
                rows = [r for r in accepted if r[("field", "customer")] == customer and start <= r[("field", "date")] <= end]
                free = 0 if trial_until is None or trial_until < start else (min(trial_until, end) - start).days + 1
                share = Fraction((end - start).days + 1 - free, month_days)
                documents.append(document(plan, customer, rows, start, end, held.setdefault(customer, {}), share))
    documents.sort(key=lambda d: (d["customer"], d["period"]["start"]))
    # a subscribed customer's rows on a day of the months they are on no plan count nowhere: rejected
    first, last = month_bounds(months[0])[0], month_bounds(months[-1])[1]
    for row in accepted:
        subs = subscriptions.get(row[("field", "customer")])
        if subs is not None and first <= row[("field", "date")] <= last:
            current = [p for p, start in subs[0] if start <= row[("field", "date")]]
            if not current or current[-1] is None:
                rejected.append(row[("row", "number")])
    return {"documents": documents, "rejected": sorted(rejected)}
