"""The `ratecard` command line: thin wrappers over `dsl` and `interpreter`.

Each command loads what it is given, calls one function, prints what it
returns and exits. Exit statuses: 0 success, 1 plan errors (or a formula
that failed to run), 2 a usage error of the command itself, 3 rejected
ledger rows, 4 documents changed (`diff --fail-on-change`).
"""

from __future__ import annotations

import json
import sys

import click

EXIT_OK, EXIT_PLAN, EXIT_USAGE, EXIT_REJECTED, EXIT_CHANGED = 0, 1, 2, 3, 4


def _fail(message: str, status: int = EXIT_USAGE):
    click.echo(message, err=True, nl=not message.endswith("\n"))
    sys.exit(status)


def _print_diagnostics(loaded) -> None:
    from dsl.report import diagnostics_text

    click.echo(diagnostics_text(loaded), err=True, nl=False)


def _load_or_exit(plan_path: str):
    from dsl.loader import load_plan

    loaded = load_plan(plan_path)
    if loaded.plan is None:
        _print_diagnostics([loaded])
        sys.exit(EXIT_PLAN)
    return loaded


def _evaluation_failed(exc, loaded):
    """A plan expression that failed while running: shown at its place in the plan, exit 1."""
    from dsl.errors import Diagnostic, format_diagnostic

    _fail(format_diagnostic(Diagnostic(exc.span, exc.message, "error", "evaluation"), loaded.text), EXIT_PLAN)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ratecard")
def main() -> None:
    """ratecard: pricing plans as code, checked and run against usage ledgers."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Output for people or machines.")
@click.option("--customers", metavar="FILE", help="Also check the customers' negotiated prices (overrides) against the plans.")
def check(paths: tuple[str, ...], fmt: str, customers: str | None) -> None:
    """Check plan files (or folders of them) and report every problem."""
    from dsl.loader import load_paths
    from dsl.report import check_report, errors
    from interpreter.pricing.customers import CustomerProblem, override_problems

    loaded, problems = load_paths(list(paths))
    if customers:
        try:
            problems += override_problems(loaded, customers)
        except (CustomerProblem, ValueError) as problem:
            _fail(str(problem))
    if fmt == "json":  # whether SQL prices each plan (not imported for the text report, which editors run often)
        from interpreter.ledger.priced import unsupported

        click.echo(check_report(loaded, problems, fmt, unsupported), nl=False)
    else:
        click.echo(check_report(loaded, problems, fmt), nl=False)
    sys.exit(EXIT_PLAN if errors(loaded, problems) else EXIT_OK)


@main.command()
@click.option("--scenario", is_flag=True, help="The schema of scenario files (plans/<plan>/scenarios/*.yaml) instead.")
def schema(scenario: bool) -> None:
    """Print the JSON Schema of plan files (for editor completion and hover help)."""
    from dsl.schema import json_schema as plan_schema
    from interpreter.review.scenario_schema import json_schema as scenario_schema

    click.echo(json.dumps((scenario_schema if scenario else plan_schema)(), indent=2, ensure_ascii=False))


@main.command(name="eval")
@click.argument("plan_path", metavar="PLAN")
@click.argument("formula_name", metavar="FORMULA")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE", help="A formula input, read by its declared type.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def eval_(plan_path: str, formula_name: str, settings: tuple[str, ...], fmt: str) -> None:
    """Evaluate a plan's named FORMULA with inputs given by --set."""
    from interpreter.pricing.evaluate import EvaluationError
    from interpreter.pricing.formulas import InputProblem, find_formula, read_settings, run_formula

    try:
        given = read_settings(settings)
        loaded = _load_or_exit(plan_path)
        result = run_formula(loaded.plan, find_formula(loaded.plan, formula_name), given)
    except InputProblem as problem:
        raise click.UsageError(str(problem)) from None
    except EvaluationError as exc:
        _evaluation_failed(exc, loaded)
    click.echo(json.dumps({"value": result.text}) if fmt == "json" else result.text)


def _rate_or_exit(loaded, quiet: bool = True, engine: str = "duckdb", **options):
    """The rating of `loaded` on `engine`; a problem with the inputs ends the command (exit 2), a plan
    expression that fails ends it at its place in the plan (exit 1)."""
    from interpreter.engines.choice import rate_on
    from interpreter.engines.core import RateProblem
    from interpreter.pricing.evaluate import EvaluationError

    try:
        return rate_on(engine, loaded.versions or loaded.plan, quiet, **options)
    except RateProblem as problem:
        _fail(f"error: {problem}")
    except EvaluationError as exc:
        _evaluation_failed(exc, loaded)


def ledger_options(command):
    for option in reversed(
        [
            click.option("--usage", "usage", required=True, metavar="LEDGER", help="Usage ledger: .csv, .jsonl or .parquet."),
            click.option(
                "--period", metavar="PERIOD", help="2024-11, 2024-Q4, 2024 or 2024-11-01..2024-11-30 (default: every period in the ledger)."
            ),
            click.option("--as-of", "as_of", metavar="DATETIME", help="Rate an open period up to this moment (an estimate)."),
            click.option("--customers", metavar="FILE", help="Customer attributes (YAML or CSV), visible as customer.<name>."),
        ]
    ):
        command = option(command)
    return command


@main.command()
@click.argument("plan_path", metavar="PLAN")
@ledger_options
@click.option("--customer", metavar="ID", help="Only this customer's documents.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "yaml", "csv", "jsonl", "html"]),
    default="table",
    help="jsonl: one document per line, for large runs; html: print-ready invoices and statements.",
)
@click.option("--rejects", metavar="FILE", type=click.Path(dir_okay=False, writable=True), help="Write rejected rows to this CSV file.")
@click.option("--quiet", is_flag=True, help="No progress display on stderr.")
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default="duckdb",
    show_default=True,
    help="spark: rate on Apache Spark (pip install 'ratecard[spark]'); the documents are identical.",
)
@click.option(
    "--spark-master",
    default="local[2]",
    show_default=True,
    metavar="URL",
    help="With --engine spark: local[N], spark://host:7077 or a Spark Connect sc:// URL.",
)
@click.option(
    "--output",
    metavar="PATH",
    help="With --format html: a folder for one HTML file per document. With --engine spark: "
    "write the documents there (JSON lines; Parquet if PATH ends in .parquet).",
)
@click.option(
    "--balances", metavar="FILE", help="Start credits and carried discounts from these balances (CSV: customer,id,currency,balance)."
)
@click.option(
    "--balances-out",
    "balances_out",
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the closing balances there, for the next run's --balances.",
)
def rate(
    plan_path, usage, period, as_of, customers, customer, fmt, rejects, quiet, engine, spark_master, output, balances, balances_out
) -> None:
    """Rate a usage ledger under PLAN and print invoices or settlement statements.

    Exit status: 0 all rows accepted, 3 some rows rejected (documents are
    still printed), 1 plan errors or documents not rated (the others are
    still printed), 2 a problem with the command's inputs.
    """
    from interpreter.engines.choice import engine_options, options_problem, pause_cycle_collection
    from interpreter.output import formats

    if problem := options_problem(engine, fmt, output, bool(balances_out), as_of):
        raise click.UsageError(problem)
    try:
        if rejects:  # found before the rating, not after
            formats.check_rejects_folder(rejects)
        click.get_current_context().call_on_close(pause_cycle_collection())
        loaded = _load_or_exit(plan_path)
        if engine == "spark" and output is None and fmt not in formats.TEXT_FORMATS:
            raise click.UsageError(
                f"--engine spark prints --format {', '.join(formats.TEXT_FORMATS)}, or writes the documents to --output PATH"
            )
        asked = dict(usage=usage, period=period, as_of=as_of, customer=customer, customers=customers, balances=balances)
        options = engine_options(engine, fmt, spark_master, output, bool(balances_out))
        result = _rate_or_exit(loaded, quiet, engine, keep_going=True, **asked, **options)
        formats.deliver(result, fmt, output, engine, rejects, (customer, period, as_of), click.echo)
    except formats.WriteProblem as problem:
        _fail(f"error: {problem}")
    click.echo(formats.closing(result, loaded.text, balances_out), err=True, nl=False)
    if result.failures:
        sys.exit(EXIT_PLAN)
    if result.rejected and fmt in ("csv", "html"):
        click.echo(f"{len(result.rejected)} rejected row(s); see --rejects or --format json", err=True)
    sys.exit(EXIT_REJECTED if result.rejected else EXIT_OK)


@main.command()
@click.argument("plan_path", metavar="PLAN")
@ledger_options
@click.option("--customer", required=True, metavar="ID", help="The customer whose document to explain.")
def explain(plan_path, usage, period, as_of, customers, customer) -> None:
    """Show how each line of one customer's document was computed."""
    from interpreter.output.explain import explained

    loaded = _load_or_exit(plan_path)
    result = _rate_or_exit(loaded, usage=usage, period=period, as_of=as_of, customer=customer, customers=customers, trace=True)
    if not result.documents:
        _fail(f"error: no document for customer {customer!r} in that period (no accepted rows)")
    click.echo(explained(result.documents, loaded.versions or (loaded.plan,), loaded.text, usage), nl=False)
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
    from interpreter.review import diff as plan_diff

    plans = []
    for spec in (old_spec, new_spec):
        try:
            plans.append(plan_diff.load_pinned(spec))
        except plan_diff.SourceProblem as problem:
            raise click.UsageError(str(problem)) from None
        if plans[-1].plan is None:
            _print_diagnostics(plans[-1:])
            sys.exit(EXIT_PLAN)
    results = [_rate_or_exit(loaded, usage=usage, period=period, customers=customers) for loaded in plans]
    report = plan_diff.compare(results[0].documents, results[1].documents)
    click.echo(plan_diff.rendered(report, fmt, old_spec, new_spec), nl=False)
    sys.exit(EXIT_CHANGED if fail_on_change and report.moved else EXIT_OK)


@main.command()
@click.argument("plan_path", metavar="PLAN")
@click.argument("charge_id", metavar="CHARGE")
@click.option("--to", "to", metavar="Q", help="Largest quantity (default: twice the last tier bound).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "svg", "png"]), default="csv", show_default=True)
@click.option("--output", metavar="FILE", help="Write there instead of printing (a PNG is never printed to a terminal).")
def curve(plan_path, charge_id, to, fmt, output) -> None:
    """The amount of CHARGE at each quantity from 0 to Q, tier bounds and their neighbours included."""
    from interpreter.output import curve as curves

    loaded = _load_or_exit(plan_path)
    try:
        drawn = curves.curve(loaded.plan, charge_id, curves.read_quantity(to))
    except curves.CurveProblem as problem:
        raise click.UsageError(str(problem)) from None
    if drawn.note:
        click.echo(f"note: {drawn.note}", err=True)
    body = curves.rendered(drawn, fmt)
    if output is not None:
        try:
            curves.write(body, output)
        except OSError as exc:
            _fail(f"error: cannot write --output {output}: {exc.strerror or exc}")
    elif isinstance(body, bytes):
        if sys.stdout.isatty():
            raise click.UsageError("--format png: give --output FILE or redirect the output to a file")
        sys.stdout.buffer.write(body)  # click.get_binary_stream is deprecated
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
    from interpreter.workbench.app import missing, serve as run_server

    if problem := missing(path, usage, customers):
        raise click.UsageError(problem)
    click.echo(f"ratecard workbench on http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(path, usage, customers, host, port)


@main.command()
@click.option(
    "--example",
    default="api_usage",
    show_default=True,
    metavar="NAME",
    help="api_usage (base fee + graduated API calls), brackets (fee by volume bracket) or seats (per seat-month).",
)
@click.option("--dir", "folder", default="plans", show_default=True, metavar="DIR", help="Folder to write the plan into.")
def init(example, folder) -> None:
    """Write a starter plan and a scenario for it (never overwrites a file)."""
    from interpreter.starters.init_plan import InitProblem, next_steps, write

    try:
        written = write(folder, example)
    except InitProblem as problem:
        raise click.UsageError(str(problem)) from None
    click.echo(next_steps(written, folder))


@main.command(name="run")
@click.option("--customers", required=True, metavar="FILE", help="Customers (CSV or YAML) with a `plan` column and their attributes.")
@click.option("--plans", "plans_dir", default="plans", show_default=True, metavar="DIR", help="Folder of plan files.")
@click.option("--usage", required=True, metavar="LEDGER", help="Usage ledger of every customer.")
@click.option("--period", metavar="PERIOD", help="2024-11, 2024-Q4, 2024 or a date range (default: the whole ledger).")
@click.option("--as-of", "as_of", metavar="DATETIME", help="Rate an open period up to this moment (an estimate).")
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Folder for one JSON file per plan, rejected.csv and manifest.json.")
@click.option("--force", is_flag=True, help="Replace the files of an earlier run in --out.")
@click.option("--balances", metavar="FILE", help="Start credits and carried discounts from these balances (a previous run's balances.csv).")
def run_command(customers, plans_dir, usage, period, as_of, out_dir, force, balances) -> None:
    """A billing run: every customer rated under the plan the customers file gives them.

    Exit status: 0 all rows accepted, 3 some rows rejected, 1 plan errors or
    documents not rated (the others are still written), 2 a problem with the
    command's inputs or --out.
    """
    from interpreter.engines.choice import pause_cycle_collection
    from interpreter.engines.core import RateProblem
    from interpreter.run.job import PlanChoiceProblem, billing_job
    from interpreter.run.output import OutputProblem, summary

    click.get_current_context().call_on_close(pause_cycle_collection())
    try:
        result, broken, written = billing_job(plans_dir, usage, customers, out_dir, force, period=period, as_of=as_of, balances=balances)
    except (RateProblem, OutputProblem, PlanChoiceProblem) as problem:
        _fail(f"error: {problem}", EXIT_PLAN if isinstance(problem, PlanChoiceProblem) else EXIT_USAGE)
    if result is None:
        _print_diagnostics(broken)
        sys.exit(EXIT_PLAN)
    out, err = summary(result, written, customers, period, as_of)
    click.echo("".join(line + "\n" for line in out), nl=False)
    click.echo("".join(line + "\n" for line in err), err=True, nl=False)
    sys.exit(EXIT_PLAN if result.failures else EXIT_REJECTED if result.rejected else EXIT_OK)


@main.command(name="test")
@click.argument("path", default="plans", required=False)
@click.option("--update", is_flag=True, help="Rewrite the snapshots of scenarios whose documents changed.")
@click.option(
    "--snapshots", "snapshot_dir", metavar="DIR", help="Snapshot folder (default: tests/__snapshots__/test_scenarios beside plans/)."
)
def test_command(path: str, update: bool, snapshot_dir: str | None) -> None:
    """Run every plan scenario under PATH against its stored snapshot.

    Shows what moved as a diff; --update accepts the new documents. Totals
    written by hand in a scenario must hold either way. Exit status: 0 all ok,
    1 a scenario failing or unusable (its file, plan or snapshot), 2 PATH or
    the snapshot folder unusable.
    """
    from interpreter.review import runner

    try:
        files, folder = runner.find(path, snapshot_dir)
    except runner.RunnerProblem as problem:
        raise click.UsageError(str(problem)) from None
    tally = runner.run_all(files, folder, update, lambda text: click.echo(text, nl=False))
    click.echo(tally.summary())
    sys.exit(EXIT_PLAN if tally.failed else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
