"""What `ratecard check` prints: every problem of every plan file, for people or for machines.

For people, each problem as `path:line:col: message` with the line and a
caret under the spot, then one summary line; for machines, one JSON object
listing the files, the problems and their counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from dsl.errors import Diagnostic, diagnostic_json, format_diagnostic
from dsl.loader import Loaded
from dsl.tree import Plan


def diagnostics_text(loaded: Iterable[Loaded]) -> str:
    """Every problem of the loaded files, each shown with its line of the file."""
    return "".join(format_diagnostic(d, item.text or None) + "\n" for item in loaded for d in item.diagnostics)


def errors(loaded: list[Loaded], problems: list[Diagnostic]) -> int:
    return sum(d.severity == "error" for d in [*(d for item in loaded for d in item.diagnostics), *problems])


def check_report(
    loaded: list[Loaded], problems: list[Diagnostic], fmt: str, interpreted: Callable[[Plan], str | None] | None = None
) -> str:
    """The report of `check` in `fmt` (text or json); `problems` are those of no one file (a missing path).

    With `interpreted` (why the interpreter, not SQL, prices a plan's
    documents; None when SQL does), the JSON says so of each plan file.
    """
    everything = [d for item in loaded for d in item.diagnostics] + problems
    count = errors(loaded, problems)
    if fmt == "json":
        report = {
            "files": [_file_json(item, interpreted) for item in loaded],
            "diagnostics": [diagnostic_json(d) for d in everything],
            "errors": count,
            "warnings": len(everything) - count,
        }
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    status = "ok" if not count else "failed"
    return (
        "".join(format_diagnostic(d) + "\n" for d in problems)
        + diagnostics_text(loaded)
        + f"{status}: {len(loaded)} plan file(s), {count} error(s), {len(everything) - count} warning(s)\n"
    )


def _file_json(item: Loaded, interpreted: Callable[[Plan], str | None] | None) -> dict:
    entry: dict = {"path": item.path, "plan": item.plan.id if item.plan else None, "ok": item.plan is not None}
    if interpreted is not None and item.plan is not None:
        # a plan with versions is priced in SQL only if every version is
        reason = next(filter(None, map(interpreted, item.versions or (item.plan,))), None)
        entry["pricing"] = {"in_sql": reason is None, "reason": reason}
    return entry
