"""Documents as JSON, YAML, CSV or a terminal table.

The JSON shape is the contract: amounts are decimal strings in currency
units, documents sorted by customer then period, and the same input always
gives byte-identical output.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from decimal import Decimal
from json.encoder import encode_basestring as _string  # the escaping of json.dumps(..., ensure_ascii=False)
from typing import Any

import orjson

from dsl.rounding import ROUNDING, money_text, text
from interpreter.ledger.rows import Rejected
from interpreter.pricing.documents import Document


def rate_text(rate: Decimal) -> str:
    """A tax rate with at least two decimals, as in `"0.10"`."""
    shown = text(rate)
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return format(rate.quantize(Decimal("0.01")), "f") if decimals < 2 else shown


QUANTITY_PLACES = Decimal("0.000001")


def quantity_text(value: Decimal) -> str:
    """A line's quantity for display: exact up to 6 decimal places (the amount uses it unrounded)."""
    shown = value.quantize(QUANTITY_PLACES, context=ROUNDING).normalize(ROUNDING)
    return format(shown if shown else shown.copy_abs(), "f")


def _line(line, money) -> dict:
    data = {
        "id": line.id,
        "description": line.description,
        "quantity": None if line.quantity is None else quantity_text(line.quantity),
        "amount": money(line.amount),
    }
    if line.memo:
        data["memo"] = True  # shown for information; not part of the subtotal
    return data


def document_data(doc: Document) -> dict:
    digits = doc.plan.minor_digits

    def money(value: Decimal) -> str:
        return money_text(value, digits)

    data: dict[str, Any] = {
        "customer": doc.customer,
        "plan": doc.plan.id,
        "kind": doc.plan.kind,
        "currency": doc.plan.currency,
        "period": {"start": doc.period_start.isoformat(), "end": doc.period_end.isoformat()},
        "lines": [_line(line, money) for line in doc.lines],
        "subtotal": money(doc.subtotal),
        "taxes": [
            {
                "id": t.id,
                "rate": rate_text(t.rate),
                "base": money(t.base),
                "amount": money(t.amount),
                **({"included": True} if t.included else {}),
            }
            for t in doc.taxes
        ],
        "total": money(doc.total),
        "notices": [{"id": nid, "message": message} for nid, message in doc.notices],
    }
    if doc.plan.credits:
        data["credits"] = [
            {
                "id": c.id,
                "description": c.description,
                "opening": money(c.opening),
                "applied": money(c.applied),
                "closing": money(c.closing),
            }
            for c in doc.credits
        ]
    if any(d.carry for d in doc.plan.discounts):
        data["carried"] = [
            {
                "id": c.id,
                "description": c.description,
                "opening": money(c.opening),
                "added": money(c.added),
                "applied": money(c.applied),
                "closing": money(c.closing),
            }
            for c in doc.carried
        ]
    if doc.schedule:
        data["schedule"] = doc.schedule
    if doc.estimate:
        data["estimate"] = True
    if doc.overrides:
        data["overrides"] = list(doc.overrides)
    return data


def compact(value: Any) -> str:
    """JSON on one line, without spaces; text kept as it is written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_INCLUDED = ',"included":true'


def document_line(doc: Document) -> str:
    """`document_data(doc)` as compact JSON, the very bytes `compact(...)` gives,
    written directly: the hot path of large runs, without the dictionaries in between."""
    digits = doc.plan.minor_digits
    lines = []
    for line in doc.lines:
        quantity = "null" if line.quantity is None else f'"{quantity_text(line.quantity)}"'
        memo = ',"memo":true' if line.memo else ""
        lines.append(
            f'{{"id":{_string(line.id)},"description":{_string(line.description)},"quantity":{quantity},'
            f'"amount":"{money_text(line.amount, digits)}"{memo}}}'
        )
    taxes = [
        f'{{"id":{_string(t.id)},"rate":"{rate_text(t.rate)}","base":"{money_text(t.base, digits)}",'
        f'"amount":"{money_text(t.amount, digits)}"{_INCLUDED if t.included else ""}}}'
        for t in doc.taxes
    ]
    notices = [f'{{"id":{_string(nid)},"message":{_string(message)}}}' for nid, message in doc.notices]
    text = (
        f'{{"customer":{_string(doc.customer)},"plan":{_string(doc.plan.id)},"kind":{_string(doc.plan.kind)},'
        f'"currency":{_string(doc.plan.currency)},"period":{{"start":"{doc.period_start.isoformat()}",'
        f'"end":"{doc.period_end.isoformat()}"}},"lines":[{",".join(lines)}],"subtotal":"{money_text(doc.subtotal, digits)}",'
        f'"taxes":[{",".join(taxes)}],"total":"{money_text(doc.total, digits)}","notices":[{",".join(notices)}]'
    )
    if doc.plan.credits:
        credits = [
            f'{{"id":{_string(c.id)},"description":{_string(c.description)},"opening":"{money_text(c.opening, digits)}",'
            f'"applied":"{money_text(c.applied, digits)}","closing":"{money_text(c.closing, digits)}"}}'
            for c in doc.credits
        ]
        text += f',"credits":[{",".join(credits)}]'
    if any(d.carry for d in doc.plan.discounts):
        carried = [
            f'{{"id":{_string(c.id)},"description":{_string(c.description)},"opening":"{money_text(c.opening, digits)}",'
            f'"added":"{money_text(c.added, digits)}","applied":"{money_text(c.applied, digits)}",'
            f'"closing":"{money_text(c.closing, digits)}"}}'
            for c in doc.carried
        ]
        text += f',"carried":[{",".join(carried)}]'
    if doc.schedule:
        text += ',"schedule":' + compact(doc.schedule)
    if doc.estimate:
        text += ',"estimate":true'
    if doc.overrides:
        text += ',"overrides":' + compact(list(doc.overrides))
    return text + "}"


def rejected_data(rows: list[Rejected]) -> list[dict]:
    return [{"row": r.row, "event_id": r.event_id, "reason": r.reason} for r in rows]


def failure_data(failures: list) -> list[dict]:
    """Documents not rated (`stage2.Failure`): whose, which period, the plan line, why."""
    return [
        {
            "customer": f.customer,
            "plan": f.plan,
            "period": {"start": f.period_start.isoformat(), "end": f.period_end.isoformat()},
            "file": f.span.file,
            "line": f.span.line,
            "column": f.span.column,
            "reason": f.reason,
        }
        for f in failures
    ]


def failure_report(failures: list, source: str | None, others: str = "printed") -> str:
    """The documents not rated, for stderr: each with its customer and period, the plan line shown once;
    the last line says what became of the other documents (`others`: printed, written)."""
    from dsl.errors import Diagnostic, format_diagnostic

    shown, out = set(), []
    for f in failures:
        message = f"customer {f.customer!r}, period {f.period_start}..{f.period_end}: {f.reason}"
        out.append(format_diagnostic(Diagnostic(f.span, message, "error", "evaluation"), None if f.span in shown else source))
        shown.add(f.span)
    out.append(f"{len(failures)} document(s) not rated; the other documents are {others}")
    return "\n".join(out) + "\n"


def output_data(docs: list, rejected: list[Rejected], failures: list | None = None) -> dict:
    """The printed object; `failures` only when a document was not rated, so a clean run keeps its two keys.

    A document may be a `Document` or its JSON line (as SQL prices them: `ledger.priced`).
    """
    data = {"documents": [document_data(d) if isinstance(d, Document) else parsed(d) for d in docs], "rejected": rejected_data(rejected)}
    if failures:
        data["failures"] = failure_data(failures)
    return data


def parsed(line: str) -> dict:
    """A document's JSON line as `document_data` gives it (amounts are text: no number is read as a float)."""
    return orjson.loads(line)


def to_json(docs: list[Document], rejected: list[Rejected], failures: list | None = None) -> str:
    return json.dumps(output_data(docs, rejected, failures), indent=2, ensure_ascii=False)


def document_lines(docs: list[Document]) -> list[str]:
    """`--format jsonl`: one compact JSON object per document; rejected rows follow as {"rejected": ...}."""
    return [document_line(doc) for doc in docs]


def rejected_lines(rejected: list[Rejected]) -> list[str]:
    return [compact({"rejected": row}) for row in rejected_data(rejected)]


def failure_lines(failures: list) -> list[str]:
    return [compact({"failure": item}) for item in failure_data(failures)]


def to_yaml(docs: list[Document], rejected: list[Rejected], failures: list | None = None) -> str:
    import yaml

    return yaml.safe_dump(output_data(docs, rejected, failures), sort_keys=False, allow_unicode=True)


CSV_COLUMNS = (
    "customer",
    "plan",
    "period_start",
    "period_end",
    "row_kind",
    "id",
    "description",
    "quantity",
    "rate",
    "amount",
    "currency",
    "estimate",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def spreadsheet_safe(cell) -> str:
    """A CSV cell as a spreadsheet will show it, not run it: text starting with = + - @ TAB or
    CR is a formula there (CSV injection), so it gets a leading apostrophe; a number, a
    negative amount included, is left a number."""
    text = "" if cell is None else str(cell)
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class _SafeWriter:
    """`csv.writer` whose every cell goes through `spreadsheet_safe`."""

    def __init__(self, out: io.StringIO):
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])


def to_csv(docs: list[Document]) -> str:
    """One row per document line, tax, subtotal and total; `estimate` is "true" on every row of an estimate."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    for doc in docs:
        data = document_data(doc)
        head = [data["customer"], data["plan"], data["period"]["start"], data["period"]["end"]]
        tail = [data["currency"], "true" if doc.estimate else ""]
        for line in data["lines"]:
            kind = "memo" if line.get("memo") else "line"
            writer.writerow(head + [kind, line["id"], line["description"], line["quantity"] or "", "", line["amount"]] + tail)
        writer.writerow(head + ["subtotal", "subtotal", "Subtotal", "", "", data["subtotal"]] + tail)
        names = {t.id: t.description for t in doc.taxes}
        for tax in data["taxes"]:
            # an included tax is part of the subtotal: its row says so, since it is not added to the total
            kind = "tax_included" if tax.get("included") else "tax"
            writer.writerow(head + [kind, tax["id"], names[tax["id"]], "", tax["rate"], tax["amount"]] + tail)
        for credit in data.get("credits", []):
            writer.writerow(head + ["credit", credit["id"], credit["description"], "", "", _negated(credit["applied"])] + tail)
        writer.writerow(head + ["total", "total", "Total", "", "", data["total"]] + tail)
    return out.getvalue()


def _negated(amount: str) -> str:
    return amount if Decimal(amount) == 0 else "-" + amount


def rejects_csv(rows: list[Rejected]) -> str:
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(("row", "event_id", "reason"))
    for r in rows:
        writer.writerow((r.row, r.event_id or "", r.reason))
    return out.getvalue()


# Shown escaped in the table: control characters (a terminal runs escape sequences), line and
# paragraph separators, and the marks that reorder text right to left.
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def visible(value) -> str:
    """Text with its control characters written as escapes such as `\\x1b`."""
    return _UNSHOWN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))


def terminal_text(value):
    """Ledger or plan text for the terminal: a rich `Text` (never markup: `[bold]` is shown as
    written) with its control characters shown as escapes."""
    from rich.text import Text

    return Text(visible(value))


def to_table(docs: list[Document], rejected: list[Rejected], width: int | None = None) -> str:
    """The documents for the terminal: amounts in their currency (`₩330,000`), tax rates as percents."""
    from rich.console import Console
    from rich.table import Table

    from interpreter.output import human

    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 100, color_system=None, legacy_windows=False)
    shown = terminal_text
    for doc in docs:
        data = document_data(doc)
        money = functools.partial(human.money, currency=data["currency"])
        title = f"{data['customer']} · {data['plan']} · {data['period']['start']}..{data['period']['end']} ({data['currency']})"
        table = Table(title=shown(title + (" · estimate: usage so far" if doc.estimate else "")), title_justify="left")
        table.add_column("line")
        table.add_column("description")
        table.add_column("quantity", justify="right")
        table.add_column("amount", justify="right")
        for line, row in zip(doc.lines, data["lines"], strict=True):
            description = row["description"] + (" (memo, not charged)" if row.get("memo") else "")
            quantity = "" if line.quantity is None else human.number(line.quantity, places=human.PLACES)
            table.add_row(shown(row["id"]), shown(description), quantity, money(row["amount"]))
        if doc.plan.kind == "invoice":
            table.add_row("", "Subtotal", "", money(data["subtotal"]))
            for tax in doc.taxes:
                on = "" if tax.base == doc.subtotal else f" of {money(tax.base)}"
                what = f"{'incl. ' if tax.included else ''}{tax.description} {human.percent(tax.rate)}{on}"
                table.add_row(shown(tax.id), shown(what), "", money(tax.amount))
            for credit in data.get("credits", []):
                table.add_row(
                    shown(credit["id"]),
                    shown(f"{credit['description']} (balance {money(credit['opening'])}, left {money(credit['closing'])})"),
                    "",
                    money(_negated(credit["applied"])),
                )
        table.add_row("", "Total", "", money(data["total"]))
        console.print(table)
        for notice in data["notices"]:
            console.print(shown(f"notice {notice['id']}: {notice['message']}"))
        if "schedule" in data:
            console.print(shown("schedule: " + ", ".join(f"{k} {v}" for k, v in data["schedule"].items())))
    if rejected:
        console.print(f"{len(rejected)} rejected row(s):")
        for r in rejected:
            console.print(shown(f"  row {r.row} ({r.event_id or 'no event_id'}): {r.reason}"))
    return buffer.getvalue()
