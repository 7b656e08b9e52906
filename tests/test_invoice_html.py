"""`ratecard rate --format html`: invoices and statements that say what the JSON says, escaped, printable."""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from dsl.loader import load_plan
from interpreter.output.invoice_html import money, percent, to_html
from interpreter.output.render import output_data
from interpreter.review.scenario_schema import UsageScenario
from interpreter.review.scenarios import plan_path_for, rated, read_spec, scenario_files
from plan_helpers import PLANS, PORTONE

USAGE_SCENARIOS = [p for p in scenario_files(PLANS) if isinstance(read_spec(p), UsageScenario)]
LEDGER = PLANS / "portone_one_payment_infra" / "ledger_2024_11.csv"


class Amounts(HTMLParser):
    """Per document (`<article>`): every element carrying `data-amount`, with its attributes and shown text."""

    def __init__(self):
        super().__init__()
        self.documents: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article":
            self.documents.append({"attrs": attrs, "amounts": [], "text": ""})
        if "data-amount" in attrs:
            self._open.append({"tag": tag, "attrs": attrs, "text": ""})

    def handle_endtag(self, tag):
        if self._open and self._open[-1]["tag"] == tag:
            self.documents[-1]["amounts"].append(self._open.pop())

    def handle_data(self, data):
        if self.documents:
            self.documents[-1]["text"] += data
        for element in self._open:
            element["text"] += data


def parsed(html: str) -> list[dict]:
    parser = Amounts()
    parser.feed(html)
    return parser.documents


def test_money_and_rates_are_formatted_for_people():
    assert money("330000", "KRW") == "₩330,000"
    assert money("1234.56", "USD") == "$1,234.56"
    assert money("1234.5", "USD") == "$1,234.50"
    assert money("0.0015", "USD") == "$0.0015"  # a unit price keeps its digits
    assert percent("0.10") == "10%"
    assert percent("0.033") == "3.3%"


@pytest.mark.parametrize("path", USAGE_SCENARIOS, ids=[f"{p.parent.parent.name}-{p.stem}" for p in USAGE_SCENARIOS])
def test_every_scenarios_html_totals_equal_its_json_documents(path):
    spec = read_spec(path)
    plan = load_plan(plan_path_for(path, spec)).plan
    result = rated(path, spec, plan)
    data = output_data(result.documents, result.rejected)["documents"]
    shown = parsed(to_html(result.documents))
    assert len(shown) == len(data)
    for doc, page in zip(data, shown, strict=True):
        assert page["attrs"]["data-customer"] == doc["customer"]
        assert page["attrs"]["data-period-start"] == doc["period"]["start"]
        by_role = {e["attrs"].get("data-role"): e for e in page["amounts"]}
        for role in ("total",) + (("subtotal",) if doc["kind"] == "invoice" else ()):
            assert by_role[role]["attrs"]["data-amount"] == doc[role]
            assert by_role[role]["text"].strip() == money(doc[role], doc["currency"])
        lines = {e["attrs"]["data-amount"] for e in page["amounts"]}
        assert {line["amount"] for line in doc["lines"]} <= lines
        assert {tax["amount"] for tax in doc["taxes"]} <= lines
        if doc["kind"] == "invoice":  # what the page lists adds up to what it says is due
            credits = sum((Decimal(c["applied"]) for c in doc.get("credits", [])), Decimal(0))
            taxes = sum((Decimal(t["amount"]) for t in doc["taxes"] if not t.get("included")), Decimal(0))  # included: in the prices
            assert Decimal(doc["subtotal"]) + taxes - credits == Decimal(by_role["total"]["attrs"]["data-amount"])


def test_rate_html_shows_the_tier_breakdown_taxes_as_percents_notices_and_schedule(ratecard):
    result = ratecard("rate", PORTONE, "--usage", LEDGER, "--period", "2024-11", "--format", "html")
    assert result.exit_code == 0, result.output
    html = result.output
    assert html.startswith("<!doctype html>")
    assert "VAT 10%" in html
    assert "₩110,000" in html and "₩330,000" in html
    assert "Tier 2 · 50,000,000 to under 100,000,000" in html
    assert "+ ₩100,000 flat" in html
    assert "Net volume has passed 30,000,000 KRW" in html
    assert "Billing schedule" in html and "Dec 10, 2024, 10:00 (UTC+09:00)" in html


def test_html_is_self_contained(ratecard):
    html = ratecard("rate", PORTONE, "--usage", LEDGER, "--format", "html").output
    assert not re.search(r"""(src|href)\s*=|@import|url\(|<script""", html, re.I)


HOSTILE = "<script>alert('x')</script>"


def test_a_hostile_customer_id_is_shown_as_text(ratecard, tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        textwrap.dedent(f"""\
        event_id,customer,timestamp,kind,amount
        e1,"{HOSTILE}",2024-11-03T10:00:00+09:00,approval,60000000
        """),
        encoding="utf-8",
    )
    result = ratecard("rate", PORTONE, "--usage", ledger, "--format", "html")
    assert result.exit_code == 0, result.output
    assert "<script" not in result.output.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in result.output
    out = tmp_path / "out"
    result = ratecard("rate", PORTONE, "--usage", ledger, "--format", "html", "--output", out)
    assert result.exit_code == 0, result.output
    [written] = list(out.iterdir())
    assert re.fullmatch(r"script_alert_x_script-[0-9a-f]{8}_2024-11-01\.html", written.name)
    assert "&lt;script&gt;" in written.read_text(encoding="utf-8")


def test_output_writes_one_file_per_document(ratecard, tmp_path):
    result = ratecard("rate", PORTONE, "--usage", LEDGER, "--format", "html", "--output", tmp_path / "invoices")
    assert result.exit_code == 0, result.output
    assert "6 document(s) written" in result.output
    names = sorted(p.name for p in (tmp_path / "invoices").iterdir())
    assert names[:2] == ["bookstore_2024-11-01.html", "bookstore_2024-12-01.html"]
    assert len(names) == 6
    assert all(len(parsed(p.read_text(encoding="utf-8"))) == 1 for p in (tmp_path / "invoices").iterdir())


def test_output_needs_html_or_spark(ratecard):
    result = ratecard("rate", PORTONE, "--usage", LEDGER, "--format", "json", "--output", "x")
    assert result.exit_code == 2
    assert "--output is for --engine spark (or a folder for --format html)" in result.output


def test_printed_each_document_starts_on_its_own_a4_sheet(ratecard, page, tmp_path):
    html = ratecard("rate", PORTONE, "--usage", LEDGER, "--format", "html").output
    file = tmp_path / "invoices.html"
    file.write_text(html, encoding="utf-8")
    page.goto(file.as_uri())
    page.emulate_media(media="print")
    assert page.locator("article.document").count() == 6
    pdf = page.pdf(prefer_css_page_size=True)
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf)
    assert len(pages) == 6
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45]\.\d+ 84[12]\.\d+", pdf)  # A4: 595 x 842 points
    # on screen the sheets have a shadow; printed, none
    assert page.evaluate("getComputedStyle(document.querySelector('article')).boxShadow") == "none"
