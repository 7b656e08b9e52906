"""Revenue impact of a plan change: rate one ledger under two plans and compare.

`OLD` and `NEW` are plan files or git revisions of one (`plans/x.yaml@main`,
`git:HEAD~1:plans/x.yaml`), read with `git cat-file` behind --end-of-options.
The report lists, per customer and period, the old and new totals, the change,
and which lines moved; then a summary of revenue before and after, who pays
more or less, the largest movers, and lines that appeared or vanished. The
table and Markdown show amounts in their currency (`₩330,000`); JSON keeps
decimal strings.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from dsl.loader import PLAN_SUFFIXES, Loaded, in_force, load_plan, load_plan_text, not_utf8
from dsl.rounding import text
from interpreter.output import human
from interpreter.output.render import document_data, terminal_text, visible

ZERO = Decimal(0)


class SourceProblem(Exception):
    """A plan version that cannot be found (missing file, unknown git revision)."""


def split_pin(spec: str) -> tuple[str, datetime.date | None]:
    """`plans/x.yaml#2025-01-01` -> the spec and the date whose version in force to use."""
    base, sep, pin = spec.rpartition("#")
    if not sep:
        return spec, None
    try:
        return base, datetime.date.fromisoformat(pin)
    except ValueError:
        raise SourceProblem(f"{spec!r}: after # write the date whose version to use, e.g. #2025-01-01") from None


def read_source(spec: str) -> tuple[str, bytes]:
    """(name to show, plan bytes) for a file path, `path@REV` or `git:REV:path`."""
    if spec.startswith("git:"):
        _, rev, path = spec.split(":", 2) if spec.count(":") >= 2 else (None, "", "")
        if not rev or not path:
            raise SourceProblem(f"{spec!r}: write git:REVISION:path/to/plan.yaml")
        return spec, _git_show(rev, path)
    if "@" in spec and not Path(spec).exists():
        path, rev = _path_and_revision(spec)
        return spec, _git_show(rev, path)
    file = Path(spec)
    if not file.is_file():
        raise SourceProblem(f"{spec}: no such plan file")
    return spec, file.read_bytes()


def _path_and_revision(spec: str) -> tuple[str, str]:
    """`plans/x.yaml@main@{1}` -> ('plans/x.yaml', 'main@{1}'): the path ends at the first
    `.yaml@` (a revision may hold '@'); otherwise at the last '@'."""
    for suffix in PLAN_SUFFIXES:
        path, sep, rev = spec.partition(f"{suffix}@")
        if sep:
            return path + suffix, rev
    path, _, rev = spec.rpartition("@")
    return path, rev


def load_pinned(spec: str) -> Loaded:
    """`load_source` of the spec before `#DATE`; with a date, the version in force on it, alone and
    taking effect from the start (so it rates every period)."""
    source, pin = split_pin(spec)
    loaded = load_source(source)
    if loaded.plan is None or pin is None:
        return loaded
    version = in_force(loaded.versions, pin)
    if version is None:
        raise SourceProblem(f"{spec}: no version is in force on {pin}")
    return dataclasses.replace(loaded, plan=version, versions=(dataclasses.replace(version, effective=None),))


def load_source(spec: str) -> Loaded:
    """The plan at `spec` loaded and checked; text that is not UTF-8 is a diagnostic with its place.
    A file or a folder of versions is read as `rate` reads it."""
    if Path(spec).is_file() or Path(spec).is_dir():
        return load_plan(spec)
    name, data = read_source(spec)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Loaded(name, "", None, (not_utf8(name, data, exc),))
    return load_plan_text(name, text)


def _git(*args: str) -> bytes:
    """git's output for `args`, always passed as a list (no shell involved)."""
    return subprocess.run(["git", *args], capture_output=True, check=True).stdout


def _git_show(rev: str, path: str) -> bytes:
    # A revision is handed to git as data: one that starts with '-' would be read as an
    # option (`--output=FILE` writes a file), so it is refused, and --end-of-options
    # keeps git from reading anything after it as one.
    if rev.startswith("-"):
        raise SourceProblem(f"{rev!r}: a revision cannot start with '-'")
    if not rev:
        raise SourceProblem(f"{path}@: write the revision after @, e.g. {path}@main")
    file = Path(path)
    folder = file.parent if file.parent.exists() else Path(".")
    try:
        top = os.fsdecode(_git("-C", str(folder), "rev-parse", "--show-toplevel")).removesuffix("\n")
        relative = (Path.cwd() / file).resolve().relative_to(Path(top).resolve())
        return _git("-C", top, "cat-file", "--end-of-options", "blob", f"{rev}:{relative.as_posix()}")
    except FileNotFoundError:
        raise SourceProblem("git is not installed") from None
    except (subprocess.CalledProcessError, ValueError) as exc:
        stderr = getattr(exc, "stderr", None)
        detail = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else str(exc)
        first = detail.strip().splitlines()[0] if detail.strip() else "not found"
        raise SourceProblem(f"cannot read {path} at revision {rev!r}: {first}") from None


@dataclass(frozen=True)
class Change:
    """One customer and period under both plans."""

    customer: str
    period: str
    currency: str
    old: Decimal | None  # None: no document under the old plan
    new: Decimal | None
    lines: tuple[tuple[str, str | None, str | None], ...]  # (line id, old amount, new amount) that differ

    @property
    def delta(self) -> Decimal:
        return (self.new or ZERO) - (self.old or ZERO)

    @property
    def percent(self) -> Decimal | None:
        if not self.old:
            return None
        return (self.delta / self.old * 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Report:
    changes: tuple[Change, ...]
    revenue_old: dict[str, Decimal]
    revenue_new: dict[str, Decimal]
    new_lines: tuple[str, ...]
    vanished_lines: tuple[str, ...]

    @property
    def moved(self) -> list[Change]:
        return [c for c in self.changes if c.delta != 0 or c.lines]


def _amounts(data: dict) -> dict[str, str]:
    out = {line["id"]: line["amount"] for line in data["lines"]}
    out.update({f"tax:{t['id']}": t["amount"] for t in data["taxes"]})
    return out


def compare(old_docs, new_docs) -> Report:
    old = {(d.customer, d.period_start): document_data(d) for d in old_docs}
    new = {(d.customer, d.period_start): document_data(d) for d in new_docs}
    changes = []
    revenue_old: dict[str, Decimal] = {}
    revenue_new: dict[str, Decimal] = {}
    old_ids, new_ids = set(), set()
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        some = b or a
        assert some is not None  # the key is one side's at least
        currency = some["currency"]
        period = f"{some['period']['start']}..{some['period']['end']}"
        la, lb = (_amounts(a) if a else {}), (_amounts(b) if b else {})
        old_ids |= set(la)
        new_ids |= set(lb)
        moved = tuple((lid, la.get(lid), lb.get(lid)) for lid in sorted(set(la) | set(lb)) if la.get(lid) != lb.get(lid))
        total_a = Decimal(a["total"]) if a else None
        total_b = Decimal(b["total"]) if b else None
        if total_a is not None:
            revenue_old[currency] = revenue_old.get(currency, ZERO) + total_a
        if total_b is not None:
            revenue_new[currency] = revenue_new.get(currency, ZERO) + total_b
        changes.append(Change(key[0], period, currency, total_a, total_b, moved))
    return Report(tuple(changes), revenue_old, revenue_new, tuple(sorted(new_ids - old_ids)), tuple(sorted(old_ids - new_ids)))


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + text(value)


def _shown_money(value: Decimal | str | None, currency: str) -> str:
    """An amount for the report's readers: `₩330,000`, or `-` when there is none."""
    return "-" if value is None else human.money(value, currency)


def _shown_percent(change: Change) -> str:
    p = change.percent
    if p is None:
        return "new" if change.new is not None and change.old is None else "-"
    return human.signed_percent(p)


def _shown_lines(change: Change, arrow: str) -> str:
    """The lines that moved: `platform_fee ₩300,000→₩350,000`."""
    return ", ".join(f"{lid} {_shown_money(a, change.currency)}{arrow}{_shown_money(b, change.currency)}" for lid, a, b in change.lines)


def _largest(report: Report, top: int) -> list[Change]:
    return sorted(report.moved, key=lambda c: (-abs(c.delta), c.customer, c.period))[:top]


def summary(report: Report, top: int = 5) -> dict:
    up = sum(1 for c in report.changes if c.delta > 0)
    down = sum(1 for c in report.changes if c.delta < 0)
    movers = _largest(report, top)
    return {
        "revenue_old": {k: text(v) for k, v in sorted(report.revenue_old.items())},
        "revenue_new": {k: text(v) for k, v in sorted(report.revenue_new.items())},
        "documents": len(report.changes),
        "up": up,
        "down": down,
        "same_total_lines_moved": sum(1 for c in report.changes if c.delta == 0 and c.lines),
        "unchanged": sum(1 for c in report.changes if c.delta == 0 and not c.lines),
        "largest_movers": [{"customer": c.customer, "period": c.period, "delta": _signed(c.delta)} for c in movers],
        "new_lines": list(report.new_lines),
        "vanished_lines": list(report.vanished_lines),
    }


def to_data(report: Report) -> dict:
    return {
        "changes": [
            {
                "customer": c.customer,
                "period": c.period,
                "currency": c.currency,
                "old_total": None if c.old is None else text(c.old),
                "new_total": None if c.new is None else text(c.new),
                "delta": text(c.delta),
                "percent": None if c.percent is None else text(c.percent),
                "lines": [{"id": lid, "old": a, "new": b} for lid, a, b in c.lines],
            }
            for c in report.moved
        ],
        "summary": summary(report),
    }


def _cell(value) -> str:
    """Ledger or plan text in a Markdown table: control characters (a newline among them) shown
    as escapes, as in the terminal, and a `|` escaped, so that it splits no cell."""
    return visible(value).replace("|", "\\|")


def to_markdown(report: Report, old_name: str, new_name: str) -> str:
    s = summary(report)
    out = [f"### Revenue impact: `{_cell(old_name)}` → `{_cell(new_name)}`", ""]
    for currency in sorted(set(s["revenue_old"]) | set(s["revenue_new"])):
        before = Decimal(s["revenue_old"].get(currency, "0"))
        after = Decimal(s["revenue_new"].get(currency, "0"))
        change = human.signed_money(after - before, currency)
        out.append(f"- Revenue ({currency}): {human.money(before, currency)} → {human.money(after, currency)} ({change})")
    moved = f", {s['same_total_lines_moved']} with lines moved but the same total" if s["same_total_lines_moved"] else ""
    out.append(f"- Documents: {s['documents']} — {s['up']} up, {s['down']} down{moved}, {s['unchanged']} unchanged")
    if s["new_lines"]:
        out.append(f"- New lines: {_cell(', '.join(s['new_lines']))}")
    if s["vanished_lines"]:
        out.append(f"- Vanished lines: {_cell(', '.join(s['vanished_lines']))}")
    out.append("")
    if report.moved:
        out += ["| customer | period | old total | new total | change | % | lines changed |", "|---|---|---:|---:|---:|---:|---|"]
        for c in report.moved:
            old, new, change = _shown_money(c.old, c.currency), _shown_money(c.new, c.currency), human.signed_money(c.delta, c.currency)
            out.append(
                f"| {_cell(c.customer)} | {c.period} | {old} | {new} | {change} | {_shown_percent(c)} | {_cell(_shown_lines(c, '→'))} |"
            )
    else:
        out.append("No document changes.")
    return "\n".join(out) + "\n"


def to_table(report: Report, old_name: str, new_name: str) -> str:
    import io

    from rich.console import Console, JustifyMethod
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None)
    s = summary(report)
    shown = terminal_text  # ledger and plan text: escapes for control characters, never rich markup
    table = Table(title=shown(f"{old_name} -> {new_name}"), title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("customer", "left"),
        ("period", "left"),
        ("old total", "right"),
        ("new total", "right"),
        ("change", "right"),
        ("%", "right"),
        ("lines changed", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for c in report.moved:
        table.add_row(
            shown(c.customer),
            c.period,
            _shown_money(c.old, c.currency),
            _shown_money(c.new, c.currency),
            human.signed_money(c.delta, c.currency),
            _shown_percent(c),
            shown(_shown_lines(c, " -> ")),
        )
    if report.moved:
        console.print(table)
    else:
        console.print("No document changes.")
    for currency in sorted(set(s["revenue_old"]) | set(s["revenue_new"])):
        before, after = report.revenue_old.get(currency, ZERO), report.revenue_new.get(currency, ZERO)
        change = human.signed_money(after - before, currency)
        console.print(f"revenue {currency}: {human.money(before, currency)} -> {human.money(after, currency)} ({change})")
    moved = f", {s['same_total_lines_moved']} same total with lines moved" if s["same_total_lines_moved"] else ""
    console.print(f"documents: {s['documents']} ({s['up']} up, {s['down']} down{moved}, {s['unchanged']} unchanged)")
    if s["largest_movers"]:
        movers = ", ".join(f"{c.customer} {c.period} {human.signed_money(c.delta, c.currency)}" for c in _largest(report, 5))
        console.print(shown("largest movers: " + movers))
    if s["new_lines"]:
        console.print(shown("new lines: " + ", ".join(s["new_lines"])))
    if s["vanished_lines"]:
        console.print(shown("vanished lines: " + ", ".join(s["vanished_lines"])))
    return buffer.getvalue()


def rendered(report: Report, fmt: str, old_name: str, new_name: str) -> str:
    """The report as `ratecard diff --format` prints it: table, markdown or json."""
    if fmt == "json":
        return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return to_markdown(report, old_name, new_name)
    return to_table(report, old_name, new_name)
