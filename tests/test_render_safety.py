"""Ledger and plan text in the CSV files, the terminal table, explain and diff is shown, never run.

A customer id or event id is whatever the ledger holds. In `--format csv` and
in the rejects file a cell starting with `=`, `+`, `-`, `@`, TAB or CR is a
formula to a spreadsheet (CSV injection): it gets a leading apostrophe, while
numbers (negative amounts included) stay numbers. In the table, control
characters are shown escaped and `[bold]` is text, not rich markup.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from pathlib import Path

import pytest

from interpreter.output.render import spreadsheet_safe

PLAN = textwrap.dedent("""\
    plan: safety
    currency: USD
    timezone: UTC
    usage:
      units: integer
    customer:
      rebate: {type: percent, default: 0%}
    metrics:
      used: {sum: units}
    charges:
      use: {name: Use, model: per_unit, on: used, unit_price: 1.50}
    discounts:
      rebate: {name: Rebate, percent: customer.rebate}
""")

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1:A9)", "=cmd|' /C calc'!A0"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    rows = [(f"e{n}", customer, "2") for n, customer in enumerate(HOSTILE)]
    rows += [
        ("=1+1", "plain", "x"),
        ("e9", "plain", "1"),
        ("e10", "[bold]boss[/bold]", "1"),
        ("e11", "evil\x1b[2J\x1b]0;owned\x07", "1"),
        ("@e12", "plain", "[red]zz"),
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["event_id", "customer", "timestamp", "units"])
    writer.writerows((event, customer, "2024-11-02T10:00:00", units) for event, customer, units in rows)
    (tmp_path / "ledger.csv").write_text(out.getvalue(), encoding="utf-8")
    (tmp_path / "customers.csv").write_text("customer,rebate\nplain,10%\n", encoding="utf-8")
    return {
        "plan": tmp_path / "plan.yaml",
        "ledger": tmp_path / "ledger.csv",
        "customers": tmp_path / "customers.csv",
        "rejects": tmp_path / "rejects.csv",
    }


def rate(ratecard, files, fmt: str):
    return ratecard(
        "rate",
        files["plan"],
        "--usage",
        files["ledger"],
        "--customers",
        files["customers"],
        "--period",
        "2024-11",
        "--format",
        fmt,
        "--rejects",
        files["rejects"],
    )


def test_csv_cells_a_spreadsheet_would_run_start_with_an_apostrophe(ratecard, files):
    result = rate(ratecard, files, "csv")
    assert result.exit_code == 3, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    customers = {r["customer"] for r in rows}
    assert {"'" + c for c in HOSTILE} <= customers
    assert not any(c.startswith(("=", "+", "-", "@")) for c in customers)
    # amounts keep their sign and stay numbers: the rebate line is negative
    plain = [(r["row_kind"], r["id"], r["amount"]) for r in rows if r["customer"] == "plain"]
    assert plain == [("line", "use", "1.50"), ("line", "rebate", "-0.15"), ("subtotal", "subtotal", "1.35"), ("total", "total", "1.35")]


def test_the_rejects_file_is_neutralised_the_same_way(ratecard, files):
    assert rate(ratecard, files, "json").exit_code == 3
    rows = list(csv.DictReader(io.StringIO(files["rejects"].read_text(encoding="utf-8"))))
    assert [r["event_id"] for r in rows] == ["'=1+1", "'@e12"]


@pytest.mark.parametrize(
    "cell, shown",
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5.00", "-5.00"),
        ("-5", "-5"),
        ("+3", "+3"),
        ("0.15", "0.15"),
        ("acme", "acme"),
        ("", ""),
        (None, ""),
        ("-", "'-"),
        ("-.5", "'-.5"),
        ("- 5", "'- 5"),
        ("-5.00=1", "'-5.00=1"),
        ("-1e5", "'-1e5"),
        (" =1", " =1"),
    ],
)
def test_spreadsheet_safe(cell, shown):
    assert spreadsheet_safe(cell) == shown


def test_the_table_shows_control_characters_escaped_and_markup_as_text(ratecard, files):
    result = rate(ratecard, files, "table")
    assert result.exit_code == 3, result.output
    text = result.stdout
    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b[2J\\x1b]0;owned\\x07" in text
    assert "[bold]boss[/bold]" in text
    assert "'[red]zz'" in text  # a rejected row's reason quotes the ledger's text as it is


def test_the_estimate_of_an_open_period_is_marked_in_every_format(ratecard, files):
    estimate = ("rate", files["plan"], "--usage", files["ledger"], "--as-of", "2024-11-15")
    table = ratecard(*estimate)
    assert "estimate: usage so far" in table.stdout
    rows = list(csv.DictReader(io.StringIO(ratecard(*estimate, "--format", "csv").stdout)))
    assert rows and {r["estimate"] for r in rows} == {"true"}
    final = list(
        csv.DictReader(
            io.StringIO(ratecard("rate", files["plan"], "--usage", files["ledger"], "--period", "2024-11", "--format", "csv").stdout)
        )
    )
    assert final and {r["estimate"] for r in final} == {""}
    assert "estimate" not in ratecard("rate", files["plan"], "--usage", files["ledger"], "--period", "2024-11").stdout


# --- explain and diff show ledger and plan text as text -----------------------------------

GROUPED = (
    PLAN.replace("usage:\n  units: integer\n", "usage:\n  units: integer\n  region: {type: text, default: home}\n")
    .replace(
        "  use: {name: Use, model: per_unit, on: used, unit_price: 1.50}\n",
        "  use: {name: Use, model: per_unit, on: used, unit_price: 1.50}\n"
        '  zone: {name: "Zone \\e[31m", model: per_unit, on: used, unit_price: 0.10}\n',
    )
    .replace("  used: {sum: units}\n", "  used: {sum: units}\n  region: {last: region}\n")
    + 'notices:\n  loud: {when: used > 0, message: "ring\\a\\e]0;owned\\a and\\nnext line"}\n'
)
SHOWN_IDS = ["evil\x1b[2J\x1b]0;owned\x07", "[bold]boss[/bold]", "pipe|in|id", "two\nlines", "bidi\u202eevil"]


@pytest.fixture
def hostile_text(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "old.yaml").write_text(GROUPED, encoding="utf-8")
    (tmp_path / "new.yaml").write_text(GROUPED.replace("unit_price: 0.10", "unit_price: 0.20"), encoding="utf-8")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["event_id", "customer", "timestamp", "units", "region"])
    writer.writerows((f"e{n}", customer, "2024-11-02T10:00:00", "2", f"r|{n}\x1b[1m\n") for n, customer in enumerate(SHOWN_IDS))
    (tmp_path / "ledger.csv").write_text(out.getvalue(), encoding="utf-8")
    return {"old": tmp_path / "old.yaml", "new": tmp_path / "new.yaml", "ledger": tmp_path / "ledger.csv"}


def unshown(text: str) -> list[str]:
    """The characters of `text` a terminal would act on instead of showing (newlines aside)."""
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"]


@pytest.mark.parametrize("customer", SHOWN_IDS)
def test_explain_shows_control_characters_escaped_and_one_line_per_line(ratecard, hostile_text, customer):
    result = ratecard("explain", hostile_text["old"], "--usage", hostile_text["ledger"], "--period", "2024-11", "--customer", customer)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert unshown(text) == []
    assert text.splitlines()[0] == "Invoice for " + customer.encode("unicode_escape").decode("ascii").replace("\\u202e", "\\u202e")
    assert "notice loud: ring\\x07\\x1b]0;owned\\x07 and\\nnext line" in text
    assert "Zone \\x1b[31m" in text and "r|" in text and "\\x1b[1m\\n" in text


def test_diff_table_shows_control_characters_escaped_and_markup_as_text(ratecard, hostile_text):
    result = ratecard("diff", hostile_text["old"], hostile_text["new"], "--usage", hostile_text["ledger"], "--period", "2024-11")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert unshown(text) == []
    assert "[bold]boss[/bold]" in text
    assert "evil\\x1b[2J\\x1b]0;owned\\x07" in text and "two\\nlines" in text and "bidi\\u202eevil" in text


def test_diff_markdown_keeps_one_table_row_per_document(ratecard, hostile_text):
    result = ratecard(
        "diff", hostile_text["old"], hostile_text["new"], "--usage", hostile_text["ledger"], "--period", "2024-11", "--format", "markdown"
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert unshown(text) == []
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| customer")]
    assert len(rows) == len(SHOWN_IDS)
    # every row has the table's seven cells: no `|` of a customer or line id splits one
    assert all(len(re.split(r"(?<!\\)\|", row)) == 9 for row in rows), rows
    assert any(row.startswith("| pipe\\|in\\|id | ") for row in rows)
    assert any(row.startswith("| two\\nlines | ") for row in rows)
