"""Documents as print-ready HTML invoices and settlement statements.

One self-contained page per document (inline CSS, no scripts, nothing
fetched), or one page holding several, each starting on a new sheet when
printed. What is shown comes from the JSON shape of the document
(`render.document_data`), so the HTML says exactly what `--format json`
says; amounts are formatted for the currency and locale as every human
output formats them (`human`: `₩330,000`, `$1,234.56`), tax rates as
percents. When the documents were rated with a trace, each charge line
shows its tier breakdown.

Every plan-, ledger- or customer-controlled string goes through Jinja2's
autoescaping; a customer id becomes a file name only after `file_name`.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel.dates import format_date, format_interval

from dsl.rounding import text
from interpreter.output.human import DEFAULT_LOCALE, breakdown, charge_of, money, number, percent
from interpreter.output.render import document_data
from interpreter.pricing.documents import Document

TEMPLATES = Path(__file__).resolve().parent / "templates"

_SCHEDULE_LABELS = {
    "issue_date": "Invoice issued",
    "dispute_until": "Disputes accepted until",
    "charge_at": "Payment charged",
}


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template: plan and ledger text are user input
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


def _schedule(schedule: dict, locale: str) -> list[tuple[str, str]]:
    out = []
    for key, value in schedule.items():
        label = _SCHEDULE_LABELS.get(key, key.replace("_", " ").capitalize())
        try:
            moment = datetime.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            out.append((label, str(value)))
            continue
        shown = format_date(moment.date(), "medium", locale=locale)
        if "T" in value:
            offset = moment.strftime("%z")
            shown += f", {moment:%H:%M} (UTC{offset[:3]}:{offset[3:]})" if offset else f", {moment:%H:%M}"
        out.append((label, shown))
    return out


def view(doc: Document, locale: str = DEFAULT_LOCALE) -> dict:
    """What the template shows of one document: the JSON data, formatted, plus names and breakdowns."""
    data = document_data(doc)
    plan, currency = doc.plan, data["currency"]

    def cash(amount: str) -> str:
        return money(amount, currency, locale)

    tax_names = {t.id: t.description for t in doc.taxes}
    lines = []
    for line, shown in zip(doc.lines, data["lines"], strict=True):
        lines.append(
            {
                "id": shown["id"],
                "description": shown["description"],
                "memo": bool(shown.get("memo")),
                "quantity": None if shown["quantity"] is None else number(shown["quantity"], locale),
                "amount": shown["amount"],
                "amount_text": cash(shown["amount"]),
                "breakdown": breakdown(line, charge_of(plan, line.id), currency, locale),
                "is_total": plan.kind == "settlement" and shown["id"] == plan.total,
            }
        )
    start, end = doc.period_start, doc.period_end
    return {
        "kind": data["kind"],
        "title": "Settlement statement" if data["kind"] == "settlement" else "Invoice",
        "customer": data["customer"],
        "plan_id": data["plan"],
        "plan_name": plan.name or plan.id,
        "currency": currency,
        "period": format_interval(start, end, skeleton="yMMMd", locale=locale)
        if start != end
        else format_date(start, "medium", locale=locale),
        "period_start": data["period"]["start"],
        "period_end": data["period"]["end"],
        "lines": lines,
        "subtotal": data["subtotal"],
        "subtotal_text": cash(data["subtotal"]),
        "taxes": [
            {
                "id": t["id"],
                "name": tax_names.get(t["id"], t["id"]),
                "rate": percent(t["rate"], locale),
                "base_text": cash(t["base"]),
                "amount": t["amount"],
                "amount_text": cash(t["amount"]),
                "included": bool(t.get("included")),  # part of the prices: shown, not added
            }
            for t in data["taxes"]
        ],
        "credits": [
            {**c, "applied_text": cash(_negated(c["applied"])), "opening_text": cash(c["opening"]), "closing_text": cash(c["closing"])}
            for c in data.get("credits", [])
        ],
        "total": data["total"],
        "total_text": cash(data["total"]),
        "notices": data["notices"],
        "schedule": _schedule(data.get("schedule") or {}, locale),
        "estimate": bool(data.get("estimate")),
        "total_line": plan.total if plan.kind == "settlement" else None,
    }


def _negated(amount: str) -> str:
    return amount if Decimal(amount) == 0 else text(-Decimal(amount))


def to_html(docs: list[Document], locale: str = DEFAULT_LOCALE) -> str:
    """One page holding every document, each on its own printed sheet."""
    views = [view(doc, locale) for doc in docs]
    title = f"{views[0]['title']} · {views[0]['customer']} · {views[0]['period']}" if len(views) == 1 else f"{len(views)} documents"
    return environment().get_template("invoice.html.j2").render(documents=views, title=title, css=stylesheet())


def document_html(doc: Document, locale: str = DEFAULT_LOCALE) -> str:
    return to_html([doc], locale)


@lru_cache(maxsize=1)
def stylesheet() -> str:
    return (TEMPLATES / "invoice.css").read_text(encoding="utf-8")


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(doc: Document) -> str:
    """`<customer>_<period start>.html`, the customer id reduced to safe characters
    (with a short hash of the real id when anything had to be replaced, so names stay distinct)."""
    slug = _UNSAFE.sub("_", doc.customer).strip("._")[:60] or "customer"
    if slug != doc.customer:
        slug += "-" + hashlib.sha256(doc.customer.encode("utf-8")).hexdigest()[:8]
    return f"{slug}_{doc.period_start.isoformat()}.html"


def write_files(docs: list[Document], folder: str | Path, locale: str = DEFAULT_LOCALE) -> list[Path]:
    """`--output DIR`: one HTML file per document."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in docs:
        path = out / file_name(doc)
        path.write_text(document_html(doc, locale), encoding="utf-8")
        written.append(path)
    return written
