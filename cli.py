"""The `ratecard` command line: thin wrappers over `dsl` and `interpreter`.

Exit statuses: 0 success, 1 plan errors (or a formula that failed to run),
2 a usage error of the command itself, 3 rejected ledger rows.
"""

from __future__ import annotations

import json
import sys

import click

EXIT_OK, EXIT_PLAN, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


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
def schema() -> None:
    """Print the JSON Schema of plan files (for editor completion and hover help)."""
    from dsl.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


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
    from interpreter.evaluate import EvaluationError
    from interpreter.formulas import InputProblem, run_formula

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
        raise click.UsageError(str(problem))
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


def _rate_or_exit(loaded, **options):
    from dsl.errors import Diagnostic, format_diagnostic
    from interpreter.evaluate import EvaluationError
    from interpreter.rate import RateProblem, rate

    try:
        return rate(loaded.plan, **options)
    except RateProblem as problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_USAGE)
    except EvaluationError as exc:
        click.echo(format_diagnostic(Diagnostic(exc.span, exc.message, "error", "evaluation"), loaded.text), err=True)
        sys.exit(EXIT_PLAN)


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


@main.command()
@click.argument("plan_path", metavar="PLAN")
@ledger_options
@click.option("--customer", metavar="ID", help="Only this customer's documents.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "yaml", "csv"]), default="table")
@click.option("--rejects", metavar="FILE", type=click.Path(dir_okay=False, writable=True), help="Write rejected rows to this CSV file.")
def rate(plan_path, usage, period, as_of, customers, customer, fmt, rejects) -> None:
    """Rate a usage ledger under PLAN and print invoices or settlement statements.

    Exit status: 0 all rows accepted, 3 some rows rejected (documents are
    still printed), 1 plan errors, 2 a problem with the command's inputs.
    """
    from interpreter import render

    loaded = _load_or_exit(plan_path)
    result = _rate_or_exit(loaded, usage=usage, period=period, as_of=as_of, customer=customer, customers=customers)
    if fmt == "json":
        click.echo(render.to_json(result.documents, result.rejected))
    elif fmt == "yaml":
        click.echo(render.to_yaml(result.documents, result.rejected), nl=False)
    elif fmt == "csv":
        click.echo(render.to_csv(result.documents), nl=False)
    else:
        click.echo(render.to_table(result.documents, result.rejected), nl=False)
    if rejects:
        with open(rejects, "w", encoding="utf-8", newline="") as handle:
            handle.write(render.rejects_csv(result.rejected))
    if result.rejected:
        if fmt in ("csv",):
            click.echo(f"{len(result.rejected)} rejected row(s); see --rejects or --format json", err=True)
        sys.exit(EXIT_REJECTED)
    sys.exit(EXIT_OK)


@main.command()
@click.argument("plan_path", metavar="PLAN")
@ledger_options
@click.option("--customer", required=True, metavar="ID", help="The customer whose document to explain.")
def explain(plan_path, usage, period, as_of, customers, customer) -> None:
    """Show how each line of one customer's document was computed."""
    from interpreter.explain import explain as explain_document

    loaded = _load_or_exit(plan_path)
    result = _rate_or_exit(loaded, usage=usage, period=period, as_of=as_of, customer=customer, customers=customers)
    if not result.documents:
        click.echo(f"error: no document for customer {customer!r} in that period (no accepted rows)", err=True)
        sys.exit(EXIT_USAGE)
    click.echo("\n".join(explain_document(doc, loaded.text) for doc in result.documents), nl=False)
    if result.rejected:
        click.echo(f"note: {len(result.rejected)} ledger row(s) were rejected; run `ratecard rate --rejects FILE` to list them", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
