"""What the plan page shows, computed from a plan's text: problems, curves, invoices, revenue impact.

Each panel is plain data for the templates. The text may be the file on disk
or what is in the page's editor, unsaved; nothing here writes a file.
Rating runs one request at a time (`LOCK`): the machine's cores go to one
DuckDB rating, not to several half-finished ones.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from dsl.loader import Loaded, load_plan_text
from interpreter.engines.core import RateProblem
from interpreter.engines.duckdb.engine import rate
from interpreter.output import curve as curves
from interpreter.output.invoice_html import document_html, money
from interpreter.pricing.evaluate import EvaluationError
from interpreter.review import diff as plan_diff
from interpreter.review.scenario_schema import UsageScenario
from interpreter.review.scenarios import ScenarioProblem, rate_inputs, read_spec
from interpreter.workbench.workspace import Sample, Workspace

LOCK = threading.Lock()
SHOWN_DOCUMENTS = 40  # invoices drawn on the page; the rest are counted


@dataclass(frozen=True)
class Rated:
    documents: list
    rejected: list
    problem: str | None = None


def problems(loaded: Loaded) -> list[dict]:
    out = []
    for d in loaded.diagnostics:
        end_column = d.span.end_column if d.span.end_line in (None, d.span.line) else None
        out.append({"line": d.span.line, "column": d.span.column, "end_column": end_column, "severity": d.severity, "message": d.message})
    return out


def check(name: str, text: str) -> tuple[Loaded, list[dict]]:
    loaded = load_plan_text(name, text)
    return loaded, problems(loaded)


def charts(loaded: Loaded) -> list[dict]:
    """One chart per charge priced by a quantity; the others say how they are priced."""
    out: list[dict] = []
    if loaded.plan is None:
        return out
    for charge in loaded.plan.charges:
        entry: dict[str, Any] = {"id": charge.id, "name": charge.name, "model": charge.model.replace("_", " ")}
        if curves.priced_by_quantity(charge):
            drawn = curves.curve(loaded.plan, charge.id)
            entry["spec"] = curves.chart(drawn, width="container", height=200)
            entry["note"] = drawn.note
        else:
            entry["reason"] = f"{charge.model.replace('_', ' ')} charge: its amount does not follow one quantity"
        out.append(entry)
    return out


def rate_sample(loaded: Loaded, sample: Sample | None, customers: Path | None) -> Rated:
    """The documents of `sample` under the plan `loaded` (with the trace their tier breakdown needs)."""
    if sample is None:
        return Rated([], [], "no usage to rate: start the workbench with --usage LEDGER, or add a scenario")
    plan = loaded.versions or loaded.plan
    if plan is None:
        return Rated([], [], "the plan has errors: fix them to rate it")
    try:
        with LOCK:
            if sample.ledger is not None:
                result = rate(plan, str(sample.ledger), customers=str(customers) if customers else None, trace=True)
            else:
                assert sample.scenario is not None  # a sample is a ledger or a scenario
                scenario = read_spec(sample.scenario)
                if not isinstance(scenario, UsageScenario):  # the file changed since the samples were listed
                    raise ScenarioProblem(f"{sample.scenario.name}: a formula scenario has no usage to rate")
                with tempfile.TemporaryDirectory() as folder:
                    ledger, options = rate_inputs(sample.scenario, scenario, Path(folder) / "usage.jsonl")
                    result = rate(plan, ledger, **options, trace=True)
    except (RateProblem, ScenarioProblem) as problem:
        return Rated([], [], str(problem))
    except EvaluationError as exc:
        return Rated([], [], f"line {exc.span.line}: {exc.message}")
    return Rated(result.documents, result.rejected)


def invoices(rated: Rated) -> dict:
    docs = rated.documents
    return {
        "problem": rated.problem,
        "documents": [
            {
                "customer": d.customer,
                "period": f"{d.period_start} – {d.period_end}",
                "title": "Statement" if d.plan.kind == "settlement" else "Invoice",
                "total": str(d.total),
                "total_text": money(d.total, d.plan.currency),
                "html": document_html(d),
            }
            for d in docs[:SHOWN_DOCUMENTS]
        ],
        "more": max(0, len(docs) - SHOWN_DOCUMENTS),
        "rejected": [{"row": r.row, "event_id": r.event_id, "reason": r.reason} for r in rated.rejected[:20]],
        "rejected_count": len(rated.rejected),
    }


def committed(workspace: Workspace, name: str) -> tuple[Loaded | None, str | None]:
    """The plan as of the last git revision, or why there is none to compare with."""
    try:
        loaded = plan_diff.load_source(f"{workspace.plan_path(name)}@HEAD")
    except plan_diff.SourceProblem as problem:
        return None, f"no committed version to compare with ({problem})"
    if loaded.plan is None:
        return None, "the committed version has errors; there is nothing to compare with"
    return loaded, None


def impact(workspace: Workspace, name: str, _loaded: Loaded, sample: Sample | None, now: Rated) -> dict:
    """Revenue impact of the working copy against the last git revision, on the same sample."""
    old, why = committed(workspace, name)
    if old is None:
        return {"problem": why}
    if now.problem:
        return {"problem": now.problem}
    before = rate_sample(old, sample, workspace.customers)
    if before.problem:
        return {"problem": f"the committed version could not be rated: {before.problem}"}
    report = plan_diff.compare(before.documents, now.documents)
    summary = plan_diff.summary(report)
    currencies = sorted(set(report.revenue_old) | set(report.revenue_new))
    revenue = []
    for currency in currencies:
        old_total, new_total = report.revenue_old.get(currency, Decimal(0)), report.revenue_new.get(currency, Decimal(0))
        revenue.append(
            {
                "currency": currency,
                "old": money(old_total, currency),
                "new": money(new_total, currency),
                "delta": _signed(new_total - old_total, currency),
                "direction": _direction(new_total - old_total),
            }
        )
    changes = [
        {
            "customer": c.customer,
            "period": c.period.replace("..", " – "),
            "old": "—" if c.old is None else money(c.old, c.currency),
            "new": "—" if c.new is None else money(c.new, c.currency),
            "delta": _signed(c.delta, c.currency),
            "direction": _direction(c.delta),
            "percent": None if c.percent is None else f"{c.percent:+}%",
            "lines": [
                {"id": lid.removeprefix("tax:"), "old": _amount(a, c.currency), "new": _amount(b, c.currency)} for lid, a, b in c.lines
            ],
        }
        for c in report.moved
    ]
    return {
        "problem": None,
        "revenue": revenue,
        "summary": summary,
        "changes": changes,
        "chart": _movers_chart(report) if any(c.delta for c in report.moved) else None,
    }


def _amount(value: str | None, currency: str) -> str:
    return "—" if value is None else money(value, currency)


def _signed(value: Decimal, currency: str) -> str:
    return ("+" if value > 0 else "") + money(value, currency)


def _direction(value: Decimal) -> str:
    return "up" if value > 0 else ("down" if value < 0 else "same")


def _movers_chart(report) -> dict:
    """Who pays more and who pays less: one bar per customer and period whose total moved."""
    import altair as alt

    values = [
        {
            "who": f"{c.customer} · {c.period.split('..')[0][:7]}",
            "delta": str(c.delta),
            "change": _signed(c.delta, c.currency),
            "side": "pays more" if c.delta > 0 else "pays less",
        }
        for c in report.moved
        if c.delta != 0
    ]
    data = alt.Data(values=values, format=alt.DataFormat(parse={"delta": "number"}))
    bars = (
        alt.Chart(data)
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X("delta:Q", title="Change of the total", axis=alt.Axis(format=",~f")),
            y=alt.Y("who:N", sort="-x", title=None),
            color=alt.Color(
                "side:N",
                scale=alt.Scale(domain=["pays more", "pays less"], range=["#2f5bea", "#e07a1f"]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[alt.Tooltip("who:N", title="Customer"), alt.Tooltip("change:N", title="Change")],
        )
    )
    return bars.properties(width="container", height=max(60, 22 * len(values))).configure_view(strokeWidth=0).to_dict()
