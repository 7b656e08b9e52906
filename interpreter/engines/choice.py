"""The engine a command names, run: DuckDB (the default) or Spark, with what each of them takes.

Spark is imported only when it is chosen, so that rating on DuckDB never
needs it installed; DuckDB shows the rating's progress on a terminal.
`options_problem` tells which of `rate`'s options do not go together.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from dsl import tree
from interpreter.engines.core import RateResult
from interpreter.output.formats import PREPARED, TEXT_FORMATS
from interpreter.output.progress import TerminalProgress
from interpreter.pricing.balances import unclosed_reason


def rate_on(engine: str, plans: tree.Plan | tuple[tree.Plan, ...], quiet: bool = True, **options: Any) -> RateResult:
    """`plans` rated on `engine` ("duckdb" or "spark"); a progress display on DuckDB unless `quiet`.

    A problem with the inputs is a `RateProblem`, a plan expression that
    fails an `EvaluationError`, as the engines raise them.
    """
    progress = TerminalProgress(quiet or engine == "spark")
    try:
        if engine == "spark":
            from interpreter.engines.spark.engine import rate as rate_on_spark

            return rate_on_spark(plans, **options)
        from interpreter.engines.duckdb.engine import rate

        return rate(plans, progress=progress, **options)
    finally:
        progress.close()


def engine_options(engine: str, fmt: str, master: str, output: str | None, closing: bool) -> dict[str, Any]:
    """What `ratecard rate` gives the engine beyond the ledger: Spark's master, output and closing
    balances; DuckDB's preparation of the output format, and the traces HTML invoices show."""
    if engine == "spark":
        return dict(master=master, output=output, closing=closing)
    # JSON, JSON lines and YAML are made of each document's JSON line, which SQL may price (`ledger.priced`)
    return dict(prepare=PREPARED.get(fmt), trace=fmt == "html", lines=fmt in TEXT_FORMATS)


def options_problem(engine: str, fmt: str, output: str | None, closing: bool, as_of: str | None) -> str | None:
    """What is wrong with `ratecard rate`'s options taken together, found before anything is read."""
    if output is not None and engine != "spark" and fmt != "html":
        return "--output is for --engine spark (or a folder for --format html); with duckdb use --format jsonl > FILE"
    if closing and as_of:
        return f"--balances-out: {unclosed_reason(True, 0)}"
    return None


def pause_cycle_collection() -> Callable[[], None]:
    """Turn the cycle collector off for a run; what is returned turns it back on.

    Documents and facts hold no reference cycles, so during a run the cycle collector would
    only rescan millions of live Decimals (a quarter second on 50,000 documents). It is back on
    when the command ends, for callers that run commands in their own process.
    """
    if not gc.isenabled():
        return lambda: None
    gc.disable()
    return gc.enable
