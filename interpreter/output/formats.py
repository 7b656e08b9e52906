"""What `ratecard rate` prints in each format, the files it writes beside, and what it says on stderr.

DuckDB hands over `Document`s: every format is open to them (`printed`);
asked for JSON, JSON lines or YAML, it hands over each document's JSON text.
Spark hands over each document as its JSON text, made where it was built:
JSON, JSON lines and YAML are made of that text (`text_printed`), byte for
byte what `printed` gives for the same documents. `shown` picks between
them and `print_all` prints the pieces; `write_rejects` and `closing` write
`--rejects` and `--balances-out`. `deliver` does all a rating's output but the closing.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from interpreter.ledger.rows import Rejected
from interpreter.output.invoice_html import to_html, write_files
from interpreter.output.render import (
    document_lines,
    failure_data,
    failure_lines,
    failure_report,
    rejected_data,
    rejected_lines,
    rejects_csv,
    to_csv,
    to_json,
    to_table,
    to_yaml,
)
from interpreter.pricing.balances import write_closing

# What a format can make of the documents while the duplicate check finishes (`rate`'s `prepare`).
PREPARED = {"jsonl": document_lines}
TEXT_FORMATS = ("json", "jsonl", "yaml")  # what `text_printed` writes; tables and CSV need the documents' objects


class WriteProblem(Exception):
    """A file the command was asked to write cannot be written (a usage problem: exit 2)."""


def printed(fmt: str, result) -> Iterator[str]:
    """The text `ratecard rate` prints for a `RateResult` in `fmt`, in pieces."""
    if fmt == "json":
        yield to_json(result.documents, result.rejected, result.failures) + "\n"
    elif fmt == "jsonl":
        lines = (result.prepared if result.prepared is not None else document_lines(result.documents)) + rejected_lines(result.rejected)
        lines += failure_lines(result.failures)
        for start in range(0, len(lines), 1000):  # in blocks: one write per line costs more than the line
            yield "\n".join(lines[start : start + 1000]) + "\n"
    elif fmt == "yaml":
        yield to_yaml(result.documents, result.rejected, result.failures)
    elif fmt == "csv":
        yield to_csv(result.documents)
    elif fmt == "html":
        yield to_html(result.documents)
    else:
        yield to_table(result.documents, result.rejected)


def shown(result, fmt: str, output: str | None, engine: str) -> tuple[Iterable[str], int | None]:
    """What `rate` prints, in pieces, and how many documents it wrote to `output` instead (None: none).

    Spark's documents are JSON text already, printed or written by Spark
    itself; DuckDB's are printed, or with `--format html --output` written
    one file per document.
    """
    if engine == "spark":
        return ([text_printed(result, fmt)], None) if output is None else ([], result.written)
    if fmt in ("json", "yaml"):  # rated as JSON lines (`engine_options`)
        return [text_printed(result, fmt)], None
    if output is not None:
        return [], len(write_files(result.documents, output))
    return printed(fmt, result), None


def text_printed(result, fmt: str) -> str:
    """A `RateResult` whose documents are JSON text, as `printed` prints it in `fmt` (one of `TEXT_FORMATS`)."""
    rejected = rejected_data(result.rejected)
    if fmt == "jsonl":
        lines = [
            *result.documents,
            *(json.dumps({"rejected": r}, ensure_ascii=False, separators=(",", ":")) for r in rejected),
            *failure_lines(result.failures),
        ]
        return "".join(line + "\n" for line in lines)
    data = {"documents": [json.loads(d, parse_float=_no_float) for d in result.documents], "rejected": rejected}
    if result.failures:
        data["failures"] = failure_data(result.failures)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _no_float(text: str):
    # amounts in documents are decimal strings; a bare fraction would mean a float slipped in
    raise ValueError(f"a number {text} in a document, where amounts are decimal strings")


def check_rejects_folder(path: str) -> None:
    """Refuse `--rejects` into a folder that does not exist, before any rating is done."""
    if not os.path.isdir(os.path.dirname(path) or "."):
        raise WriteProblem(f"cannot write --rejects {path}: no such folder")


def write_rejects(path: str, rows: list[Rejected]) -> None:
    """`--rejects FILE`: the rejected rows as CSV."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(rejects_csv(rows))
    except OSError as exc:
        raise WriteProblem(f"cannot write --rejects {path}: {exc.strerror or exc}") from None


def no_documents(customer: str | None, period: str | None, as_of: str | None) -> str:
    """Why `rate` printed no document."""
    return (
        "no documents: the ledger has no accepted rows"
        + (f" for customer {customer!r}" if customer else "")
        + (f" in period {period}" if period else "")
        + (f" up to {as_of}" if as_of else "")
    )


def closing(result, source: str | None, balances_out: str | None) -> str:
    """Write `--balances-out` (not after failures); what to say on stderr about it and about each document
    not rated (`source` is the plan's text, to show the failing line)."""
    unwritten = write_closing(balances_out, result.opening, result.carried, result.failures) if balances_out else None
    said = f"balances not written to {balances_out}: {unwritten}\n" if unwritten else ""
    return said + (failure_report(result.failures, source) if result.failures else "")


def print_all(pieces: Iterable[str], echo: Callable[[str], None]) -> None:
    """The command's output, each piece through `echo`; a full disk under it is a `WriteProblem`."""
    try:
        for piece in pieces:
            echo(piece)
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise  # the reader has gone (`| head`): click ends quietly
        sys.stdout = open(os.devnull, "w")  # nothing more to flush at exit  # noqa: SIM115
        raise WriteProblem(f"cannot write the output: {exc.strerror or exc}") from None


def deliver(result, fmt: str, output: str | None, engine: str, rejects: str | None, asked: tuple, echo: Callable[..., Any]) -> None:
    """What `rate` shows and writes of a rating, in order, through `echo` (`click.echo`): the documents
    (or how many were written to `output`), a note when there are none, the rejected rows to `rejects`.

    `asked` is the customer, period and as-of of the command; a file that cannot be written is a `WriteProblem`.
    """
    pieces, written = shown(result, fmt, output, engine)
    print_all(pieces, lambda piece: echo(piece, nl=False))
    if written is not None:
        echo(f"{written} document(s) written to {output}")
    if engine != "spark" and not result.documents and not result.failures:
        echo(no_documents(*asked), err=True)
    if rejects:
        write_rejects(rejects, result.rejected)
