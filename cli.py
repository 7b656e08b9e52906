"""The `ratecard` command line: thin wrappers over `dsl` and `interpreter`.

Exit statuses: 0 success, 1 plan errors (or a formula that failed to run),
2 a usage error of the command itself, 3 rejected ledger rows, 4 documents
changed (`diff --fail-on-change`).
"""

from __future__ import annotations

import errno
import gc
import json
import os
import sys

import click

EXIT_OK, EXIT_PLAN, EXIT_USAGE, EXIT_REJECTED, EXIT_CHANGED = 0, 1, 2, 3, 4


def _print_diagnostics(loaded, err: bool = True) -> None:
    from dsl.errors import format_diagnostic

    for item in loaded:
        for d in item.diagnostics:
            click.echo(format_diagnostic(d, item.text or None), err=err)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ratecard")
def main() -> None:
    """ratecard: pricing plans as code, checked and run against usage ledgers."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output for people or machines.")
def check(paths: tuple[str, ...], fmt: str) -> None:
    """Check plan files (or folders of them) and report every problem."""
    from dsl.errors import diagnostic_json, format_diagnostic
    from dsl.loader import load_paths

    loaded, problems = load_paths(list(paths))
    everything = [d for item in loaded for d in item.diagnostics] + problems
    errors = sum(d.severity == "error" for d in everything)
    warnings = len(everything) - errors
    if fmt == "json":
        report = {
            "files": [{"path": item.path, "plan": item.plan.id if item.plan else None, "ok": item.plan is not None} for item in loaded],
            "diagnostics": [diagnostic_json(d) for d in everything],
            "errors": errors,
            "warnings": warnings,
        }
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for d in problems:
            click.echo(format_diagnostic(d))
        _print_diagnostics(loaded, err=False)
        status = "ok" if not errors else "failed"
        click.echo(f"{status}: {len(loaded)} plan file(s), {errors} error(s), {warnings} warning(s)")
    sys.exit(EXIT_PLAN if errors else EXIT_OK)


@main.command()
@click.option("--scenario", is_flag=True, help="The schema of scenario files (plans/<plan>/scenarios/*.yaml) instead.")
def schema(scenario: bool) -> None:
    """Print the JSON Schema of plan files (for editor completion and hover help)."""
    from dsl.schema import json_schema as plan_schema
    from interpreter.review.scenario_schema import json_schema as scenario_schema

    click.echo(json.dumps((scenario_schema if scenario else plan_schema)(), indent=2, ensure_ascii=False))


def _settings(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"--set {item!r}: write it as NAME=VALUE")
        if name.strip() in out:
            raise click.UsageError(f"--set {name.strip()} is given twice")
        out[name.strip()] = value.strip()
    return out


@main.command(name="eval")
@click.argument("plan_path", metavar="PLAN")
@click.argument("formula_name", metavar="FORMULA")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE", help="A formula input, read by its declared type.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def eval_(plan_path: str, formula_name: str, settings: tuple[str, ...], fmt: str) -> None:
    """Evaluate a plan's named FORMULA with inputs given by --set."""
    import difflib

    from dsl.errors import format_diagnostic
    from dsl.loader import load_plan
    from dsl.tree import formula as find_formula
    from interpreter.pricing.evaluate import EvaluationError
    from interpreter.pricing.formulas import InputProblem, run_formula

    given = _settings(settings)
    loaded = load_plan(plan_path)
    if loaded.plan is None:
        _print_diagnostics([loaded])
        sys.exit(EXIT_PLAN)
    formula = find_formula(loaded.plan, formula_name)
    if formula is None:
        names = [f.name for f in loaded.plan.formulas]
        close = difflib.get_close_matches(formula_name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; it has {', '.join(names)}" if names else "; it has none")
        raise click.UsageError(f"plan {loaded.plan.id!r} has no formula {formula_name!r}{hint}")
    try:
        result = run_formula(loaded.plan, formula, given)
    except InputProblem as problem:
        raise click.UsageError(str(problem)) from None
    except EvaluationError as exc:
        from dsl.errors import Diagnostic

        click.echo(format_diagnostic(Diagnostic(exc.span, exc.message, "error", "evaluation"), loaded.text), err=True)
        sys.exit(EXIT_PLAN)
    if fmt == "json":
        click.echo(json.dumps({"value": result.text}))
    else:
        click.echo(result.text)


def _load_or_exit(plan_path: str):
    from dsl.loader import load_plan

    loaded = load_plan(plan_path)
    if loaded.plan is None:
        _print_diagnostics([loaded])
        sys.exit(EXIT_PLAN)
    return loaded


def _pause_cycle_collection() -> None:
    """Documents and facts hold no reference cycles, so during a run the cycle collector would
    only rescan millions of live Decimals (a quarter second on 50,000 documents). It is back on
    when the command ends, for callers that run commands in their own process."""
    if gc.isenabled():
        gc.disable()
        click.get_current_context().call_on_close(gc.enable)


def _rate_or_exit(loaded, quiet: bool = True, **options):
    from dsl.errors import Diagnostic, format_diagnostic
    from interpreter.pricing.evaluate import EvaluationError
    from interpreter.engines.core import RateProblem
    from interpreter.engines.duckdb.engine import rate

    from interpreter.output.progress import TerminalProgress

    progress = TerminalProgress(quiet)
    try:
        return rate(loaded.versions or loaded.plan, progress=progress, **options)
    except RateProblem as problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    except EvaluationError as exc:
        click.echo(format_diagnostic(Diagnostic(exc.span, exc.message, "error", "evaluation"), loaded.text), err=True)
        sys.exit(EXIT_PLAN)
    finally:
        progress.close()


_ledger_options = [
    click.option("--usage", "usage", required=True, metavar="LEDGER", help="Usage ledger: .csv, .jsonl or .parquet."),
    click.option("--period", metavar="PERIOD", help="2024-11, 2024-Q4, 2024 or 2024-11-01..2024-11-30 (default: every period in the ledger)."),
    click.option("--as-of", "as_of", metavar="DATETIME", help="Rate an open period up to this moment (an estimate)."),
    click.option("--customers", metavar="FILE", help="Customer attributes (YAML or CSV), visible as customer.<name>."),
]


def ledger_options(command):
    for option in reversed(_ledger_options):
        command = option(command)
    return command


def _rate_on_spark(loaded, master: str, output: str | None, fmt: str, rejects: str | None, balances_out: str | None,
                   **options) -> None:
    """`rate --engine spark`: print the documents as json, jsonl or yaml, or write them to --output; then exit."""
    from dsl.errors import Diagnostic, format_diagnostic
    from interpreter.engines.spark import engine as spark_engine
    from interpreter.pricing.evaluate import EvaluationError
    from interpreter.engines.core import RateProblem

    if output is None and fmt not in spark_engine.FORMATS:
        raise click.UsageError(f"--engine spark prints --format {', '.join(spark_engine.FORMATS)}, or writes the documents to --output PATH")
    try:
        result = spark_engine.rate(loaded.versions or loaded.plan, master=master, output=output, keep_going=True,
                                   closing=bool(balances_out), **options)
    except (spark_engine.SparkUnavailable, RateProblem) as problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    except EvaluationError as exc:
        click.echo(format_diagnostic(Diagnostic(exc.span, exc.message, "error", "evaluation"), loaded.text), err=True)
        sys.exit(EXIT_PLAN)
    if output is None:
        _print_output([spark_engine.output_text(result, fmt)])
    else:
        click.echo(f"{result.written} document(s) written to {output}")
    if rejects:
        _write_rejects(rejects, result.rejected)
    _finish_rating(result, loaded, balances_out)
    sys.exit(EXIT_REJECTED if result.rejected else EXIT_OK)


def _print_output(pieces) -> None:
    """The command's output on stdout; a full disk under it is a problem of the command's (exit 2)."""
    try:
        for piece in pieces:
            click.echo(piece, nl=False)
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise  # the reader has gone (`| head`): click ends quietly
        sys.stdout = open(os.devnull, "w")  # nothing more to flush at exit  # noqa: SIM115
        click.echo(f"error: cannot write the output: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)


def _write_rejects(path: str, rows) -> None:
    from interpreter.output import render

    try:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(render.rejects_csv(rows))
    except OSError as exc:
        click.echo(f"error: cannot write --rejects {path}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)


@main.command()
@click.argument("plan_path", metavar="PLAN")
@ledger_options
@click.option("--customer", metavar="ID", help="Only this customer's documents.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "yaml", "csv", "jsonl", "html"]), default="table",
              help="jsonl: one document per line, for large runs; html: print-ready invoices and statements.")
@click.option("--rejects", metavar="FILE", type=click.Path(dir_okay=False, writable=True), help="Write rejected rows to this CSV file.")
@click.option("--quiet", is_flag=True, help="No progress display on stderr.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="spark: rate on Apache Spark (pip install 'ratecard[spark]'); the documents are identical.")
@click.option("--spark-master", default="local[2]", show_default=True, metavar="URL",
              help="With --engine spark: local[N], spark://host:7077 or a Spark Connect sc:// URL.")
@click.option("--output", metavar="PATH", help="With --format html: a folder for one HTML file per document. With --engine spark: "
              "write the documents there (JSON lines; Parquet if PATH ends in .parquet).")
@click.option("--balances", metavar="FILE", help="Start credits and carried discounts from these balances (CSV: customer,id,currency,balance).")
@click.option("--balances-out", "balances_out", metavar="FILE", type=click.Path(dir_okay=False, writable=True),
              help="Write the closing balances there, for the next run's --balances.")
def rate(plan_path, usage, period, as_of, customers, customer, fmt, rejects, quiet, engine, spark_master, output,
         balances, balances_out) -> None:
    """Rate a usage ledger under PLAN and print invoices or settlement statements.

    Exit status: 0 all rows accepted, 3 some rows rejected (documents are
    still printed), 1 plan errors or documents not rated (the others are
    still printed), 2 a problem with the command's inputs.
    """
    from interpreter.output import render
    from interpreter.pricing.balances import unclosed_reason

    if output is not None and engine != "spark" and fmt != "html":
        raise click.UsageError("--output is for --engine spark (or a folder for --format html); with duckdb use --format jsonl > FILE")
    if balances_out and as_of:
        raise click.UsageError(f"--balances-out: {unclosed_reason(True, 0)}")
    if rejects and not os.path.isdir(os.path.dirname(rejects) or "."):  # found before the rating, not after
        click.echo(f"error: cannot write --rejects {rejects}: no such folder", err=True)
        sys.exit(EXIT_USAGE)
    _pause_cycle_collection()
    loaded = _load_or_exit(plan_path)
    if engine == "spark":
        _rate_on_spark(loaded, spark_master, output, fmt, rejects, balances_out, usage=usage, period=period, as_of=as_of,
                       customer=customer, customers=customers, balances=balances)
    result = _rate_or_exit(loaded, quiet=quiet, usage=usage, period=period, as_of=as_of, customer=customer, customers=customers,
                           prepare=render.PREPARED.get(fmt), trace=fmt == "html", balances=balances, keep_going=True)
    if fmt == "html" and output is not None:
        from interpreter.output.invoice_html import write_files

        click.echo(f"{len(write_files(result.documents, output))} document(s) written to {output}")
    else:
        _print_output(render.printed(fmt, result))
    if not result.documents and not result.failures:
        click.echo("no documents: the ledger has no accepted rows" + (f" for customer {customer!r}" if customer else "")
                   + (f" in period {period}" if period else "") + (f" up to {as_of}" if as_of else ""), err=True)
    if rejects:
        _write_rejects(rejects, result.rejected)
    _finish_rating(result, loaded, balances_out)
    if result.rejected:
        if fmt in ("csv", "html"):
            click.echo(f"{len(result.rejected)} rejected row(s); see --rejects or --format json", err=True)
        sys.exit(EXIT_REJECTED)
    sys.exit(EXIT_OK)


def _finish_rating(result, loaded, balances_out: str | None) -> None:
    """--balances-out (not written after failures: stderr says why), then each failure on stderr, exit 1."""
    from interpreter.pricing.balances import write_closing
    from interpreter.output.render import failure_report

    unwritten = write_closing(balances_out, result.opening, result.carried, result.failures) if balances_out else None
    if unwritten:
        click.echo(f"balances not written to {balances_out}: {unwritten}", err=True)
    if result.failures:
        click.echo(failure_report(result.failures, loaded.text), err=True, nl=False)
        sys.exit(EXIT_PLAN)


@main.command()
@click.argument("plan_path", metavar="PLAN")
@ledger_options
@click.option("--customer", required=True, metavar="ID", help="The customer whose document to explain.")
def explain(plan_path, usage, period, as_of, customers, customer) -> None:
    """Show how each line of one customer's document was computed."""
    from interpreter.output.explain import explain as explain_document

    loaded = _load_or_exit(plan_path)
    result = _rate_or_exit(loaded, usage=usage, period=period, as_of=as_of, customer=customer, customers=customers, trace=True)
    if not result.documents:
        click.echo(f"error: no document for customer {customer!r} in that period (no accepted rows)", err=True)
        sys.exit(EXIT_USAGE)
    click.echo("\n".join(explain_document(doc, loaded.text) for doc in result.documents), nl=False)
    if result.rejected:
        click.echo(f"note: {len(result.rejected)} ledger row(s) were rejected; run `ratecard rate --rejects FILE` to list them", err=True)


@main.command()
@click.argument("old_spec", metavar="OLD")
@click.argument("new_spec", metavar="NEW")
@click.option("--usage", required=True, metavar="LEDGER", help="Usage ledger rated under both plans.")
@click.option("--period", metavar="PERIOD", help="2024-11, 2024-Q4, 2024 or a date range (default: the whole ledger).")
@click.option("--customers", metavar="FILE", help="Customer attributes (YAML or CSV).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table")
@click.option("--fail-on-change", is_flag=True, help="Exit 4 when any document changes (for CI).")
def diff(old_spec, new_spec, usage, period, customers, fmt, fail_on_change) -> None:
    """Revenue impact of a plan change: rate LEDGER under OLD and NEW and compare.

    OLD and NEW are plan files or git revisions of one: plans/x.yaml@main or
    git:HEAD~1:plans/x.yaml. Add #DATE to use the version of a versioned plan
    in force on that date for every period: plans/x.yaml#2025-01-01.
    """
    import dataclasses

    from dsl.loader import in_force
    from interpreter.review import diff as plan_diff

    plans = []
    for spec in (old_spec, new_spec):
        try:
            source, pin = plan_diff.split_pin(spec)
            loaded = plan_diff.load_source(source)
        except plan_diff.SourceProblem as problem:
            raise click.UsageError(str(problem)) from None
        if loaded.plan is None:
            _print_diagnostics([loaded])
            sys.exit(EXIT_PLAN)
        if pin is not None:
            version = in_force(loaded.versions, pin)
            if version is None:
                raise click.UsageError(f"{spec}: no version is in force on {pin}")
            loaded = dataclasses.replace(loaded, plan=version, versions=(dataclasses.replace(version, effective=None),))
        plans.append(loaded)
    results = [_rate_or_exit(loaded, usage=usage, period=period, customers=customers) for loaded in plans]
    report = plan_diff.compare(results[0].documents, results[1].documents)
    if fmt == "json":
        click.echo(json.dumps(plan_diff.to_data(report), indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(plan_diff.to_markdown(report, old_spec, new_spec), nl=False)
    else:
        click.echo(plan_diff.to_table(report, old_spec, new_spec), nl=False)
    sys.exit(EXIT_CHANGED if fail_on_change and report.moved else EXIT_OK)


@main.command()
@click.argument("plan_path", metavar="PLAN")
@click.argument("charge_id", metavar="CHARGE")
@click.option("--to", "to", metavar="Q", help="Largest quantity (default: twice the last tier bound).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "svg", "png"]), default="csv", show_default=True)
@click.option("--output", metavar="FILE", help="Write there instead of printing (a PNG is never printed to a terminal).")
def curve(plan_path, charge_id, to, fmt, output) -> None:
    """The amount of CHARGE at each quantity from 0 to Q, tier bounds and their neighbours included."""
    from decimal import Decimal, InvalidOperation

    from interpreter.output import curve as curves

    loaded = _load_or_exit(plan_path)
    try:
        limit = None if to is None else Decimal(to.replace("_", ""))
    except InvalidOperation:
        raise click.UsageError(f"--to {to!r}: write a quantity such as 1_000_000") from None
    try:
        drawn = curves.curve(loaded.plan, charge_id, limit)
    except curves.CurveProblem as problem:
        raise click.UsageError(str(problem)) from None
    if drawn.note:
        click.echo(f"note: {drawn.note}", err=True)
    body = curves.rendered(drawn, fmt)
    if output is not None:
        with open(output, "wb") as handle:
            handle.write(body if isinstance(body, bytes) else body.encode("utf-8"))
    elif isinstance(body, bytes):
        if sys.stdout.isatty():
            raise click.UsageError("--format png: give --output FILE or redirect the output to a file")
        click.get_binary_stream("stdout").write(body)
    else:
        click.echo(body, nl=False)


@main.command()
@click.argument("path", default="plans", required=False)
@click.option("--usage", metavar="LEDGER", help="A sample ledger to show documents and revenue impact on.")
@click.option("--customers", metavar="FILE", help="Customer attributes for that ledger (YAML or CSV).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True, help="Another address makes the workbench reachable from the network.")
def serve(path, usage, customers, port, host) -> None:
    """The workbench: a local web page for the plans in PATH, their curves, invoices and scenarios."""
    from pathlib import Path

    from interpreter.workbench.app import serve as run_server

    for given, what in ((path, "PATH"), (usage, "--usage"), (customers, "--customers")):
        if given is not None and not Path(given).exists():
            raise click.UsageError(f"{what} {given}: no such file or folder")
    click.echo(f"ratecard workbench on http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(path, usage, customers, host, port)


@main.command()
@click.option("--example", default="api_usage", show_default=True, metavar="NAME",
              help="api_usage (base fee + graduated API calls), brackets (fee by volume bracket) or seats (per seat-month).")
@click.option("--dir", "folder", default="plans", show_default=True, metavar="DIR", help="Folder to write the plan into.")
def init(example, folder) -> None:
    """Write a starter plan and a scenario for it (never overwrites a file)."""
    from interpreter.starters.init_plan import InitProblem, write

    try:
        written = write(folder, example)
    except InitProblem as problem:
        raise click.UsageError(str(problem)) from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: ratecard check {written[0]}; ratecard test {folder} --update (read the result first); "
               f"ratecard serve {folder}")


@main.command(name="run")
@click.option("--customers", required=True, metavar="FILE", help="Customers (CSV or YAML) with a `plan` column and their attributes.")
@click.option("--plans", "plans_dir", default="plans", show_default=True, metavar="DIR", help="Folder of plan files.")
@click.option("--usage", required=True, metavar="LEDGER", help="Usage ledger of every customer.")
@click.option("--period", metavar="PERIOD", help="2024-11, 2024-Q4, 2024 or a date range (default: the whole ledger).")
@click.option("--as-of", "as_of", metavar="DATETIME", help="Rate an open period up to this moment (an estimate).")
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Folder for one JSON file per plan, rejected.csv and manifest.json.")
@click.option("--force", is_flag=True, help="Replace the files of an earlier run in --out.")
def run_command(customers, plans_dir, usage, period, as_of, out_dir, force) -> None:
    """A billing run: every customer rated under the plan the customers file gives them."""
    from interpreter.engines.core import RateProblem
    from interpreter.output.render import visible
    from interpreter.run.job import PlanChoiceProblem, billing_job
    from interpreter.run.output import OutputProblem

    _pause_cycle_collection()
    try:
        result, broken, written = billing_job(plans_dir, usage, customers, out_dir, force, period=period, as_of=as_of)
    except (RateProblem, OutputProblem, PlanChoiceProblem) as problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_PLAN if isinstance(problem, PlanChoiceProblem) else EXIT_USAGE)
    if result is None:
        _print_diagnostics(broken)
        sys.exit(EXIT_PLAN)
    for path in written:
        click.echo(f"wrote {visible(path)}")
    for run in result.runs:
        click.echo(f"{visible(run.plan.id)}: {len(run.customers)} customer(s), {len(run.documents)} document(s), {len(run.rejected)} rejected row(s)")
    if result.unassigned:
        click.echo(f"{len(result.unassigned)} row(s) rejected before rating (no customer, no plan, or a repeated event_id)")
    if not any(run.documents for run in result.runs):
        click.echo(f"no documents: the ledger has no accepted rows of the customers in {customers}"
                   + (f" in period {period}" if period else "; give --period to bill them for a period without usage"), err=True)
    sys.exit(EXIT_REJECTED if result.rejected else EXIT_OK)


@main.command(name="test")
@click.argument("path", default="plans", required=False)
@click.option("--update", is_flag=True, help="Rewrite the snapshots of scenarios whose documents changed.")
@click.option("--snapshots", "snapshot_dir", metavar="DIR", help="Snapshot folder (default: tests/__snapshots__/test_scenarios beside plans/).")
def test_command(path: str, update: bool, snapshot_dir: str | None) -> None:
    """Run every plan scenario under PATH against its stored snapshot.

    Shows what moved as a diff; --update accepts the new documents. Totals
    written by hand in a scenario must hold either way. Exit status: 0 all ok,
    1 a scenario failing or unusable (its file, plan or snapshot), 2 PATH or
    the snapshot folder unusable.
    """
    from pathlib import Path

    from interpreter.review import snapshots
    from interpreter.pricing.evaluate import EvaluationError
    from interpreter.engines.core import RateProblem
    from interpreter.review.scenarios import ScenarioProblem, run, scenario_files

    root = Path(path)
    if not root.exists():
        raise click.UsageError(f"{path}: no such file or folder")
    files = scenario_files(root)
    if not files:
        raise click.UsageError(f"{path}: no scenarios found (plans/<plan>/scenarios/*.yaml)")
    folder = Path(snapshot_dir) if snapshot_dir else snapshots.default_dir(root)
    try:
        snapshots.check_folder(folder, levels=1 if snapshot_dir else len(snapshots.SNAPSHOT_DIR.parts))
    except snapshots.SnapshotProblem as problem:
        raise click.UsageError(str(problem)) from None
    passed = failed = updated = 0
    for file in files:
        name = snapshots.scenario_id(file)
        try:
            outcome = run(file)
            result = snapshots.compare(file, snapshots.snapshot_file(folder, file), outcome.data)
            problems = list(outcome.failures)
            if result.status != "same" and update and not problems:
                snapshots.write(result.snapshot, outcome.data)
        except (ScenarioProblem, RateProblem, EvaluationError, snapshots.SnapshotProblem) as problem:
            failed += 1
            click.echo(f"ERROR {name}: {getattr(problem, 'message', problem)}")
            continue
        if result.status != "same" and update and problems:
            problems.append("snapshot not updated: the totals written by hand in the scenario do not hold")
        elif result.status != "same" and update:
            updated += 1
            click.echo(f"UPDATED {name} ({result.status} snapshot written)")
            if result.diff:
                click.echo(result.diff, nl=False)
        elif result.status == "new":
            problems.append(f"no snapshot yet ({result.snapshot}); run with --update after reading the result")
        elif result.status == "changed":
            problems.append("documents differ from the snapshot:\n" + result.diff)
        if problems:
            failed += 1
            click.echo(f"FAIL {name}")
            for problem in problems:
                click.echo(f"  {problem}")
        else:
            passed += 1
            if result.status == "same":
                click.echo(f"ok   {name}")
    click.echo(f"scenarios: {passed} ok, {failed} failing" + (f", {updated} snapshot(s) updated" if updated else ""))
    sys.exit(EXIT_PLAN if failed else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
