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


if __name__ == "__main__":  # pragma: no cover
    main()
