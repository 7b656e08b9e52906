"""The shape of a scenario file, as pydantic models (the YAML boundary only).

A scenario is read like a plan: located YAML, validated against frozen models
that forbid unknown keys, every problem reported at its line and column with a
"did you mean". A misspelled expectation (`expected:`, `totl:`) would otherwise
switch its own check off and let a wrong snapshot be accepted. Every field has
a description: `ratecard schema --scenario` turns these models into the JSON
Schema editors use.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeInt,
    PositiveInt,
    StrictBool,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from dsl.errors import Diagnostic, Span, error, sort_key
from dsl.loader import not_utf8
from dsl.schema_values import Amount, Strict
from dsl.source import MAX_FILE_BYTES, Mapping, child, read_document, to_plain
from dsl.validate import located
from interpreter.periods import PeriodProblem, parse_as_of, parse_range

Cell = StrictBool | Decimal | StrictStr | None
Value = StrictBool | Decimal | StrictStr


def _text(value: Any) -> Any:
    """`period: 2024` is read as a number; it is the text of a period all the same."""
    return str(value) if isinstance(value, Decimal) and value == value.to_integral_value() else value


Text = Annotated[StrictStr, BeforeValidator(_text), WithJsonSchema({"type": ["string", "integer"]})]


class ExpectedCredit(Strict):
    """Expected amounts of one credit balance on the document."""

    opening: Amount = Field(default=None, description="The balance before this document.")  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null
    applied: Amount = Field(default=None, description="The part applied to this document.")  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null
    closing: Amount = Field(default=None, description="What is left for the next document.")  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null


class ExpectedDocument(Strict):
    """Amounts one document must show; what is not written is left to the snapshot."""

    total: Amount = Field(default=None, description="The document's total.")  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null
    subtotal: Amount = Field(default=None, description="The subtotal, before taxes.")  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null
    lines: dict[str, Amount | None] = Field(default_factory=dict, description="Amount per line id; null: the line is not on the document.")
    quantities: dict[str, Amount | None] = Field(
        default_factory=dict, description="Quantity per line id; null: the line shows no quantity."
    )
    taxes: dict[str, Amount | None] = Field(default_factory=dict, description="Amount per tax id; null: the tax is not on the document.")
    notices: list[StrictStr] = Field(default=None, description="The ids of every notice shown, in any order ([] for none).")  # type: ignore[arg-type]  # pydantic: a key that may be left out, not written as null
    credits: dict[str, ExpectedCredit] = Field(default_factory=dict, description="Expected amounts per credit id.")


class ExpectedRow(Strict):
    """A ledger row that must be rejected."""

    row: PositiveInt = Field(description="Row number in the ledger (the first data row is 1).")
    reason: StrictStr | None = Field(default=None, description="Text the reason must contain.")


def _rejected_shape(value: Any) -> str:
    return "rows" if isinstance(value, list) else "count"


class Expectations(BaseModel):
    """Totals written by hand, checked on every run: a wrong snapshot cannot be accepted."""

    # Every other key names a document: a customer id, or `customer YYYY-MM` for one period.
    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        json_schema_extra={
            "description": (
                "Keys are customer ids (`acme`) or a customer and the start of a period (`acme 2024-11`), "
                "each naming exactly one document; `rejected` lists the rejected rows."
            )
        },
    )
    __pydantic_extra__: dict[str, ExpectedDocument | None] = Field(init=False)

    rejected: Annotated[
        Annotated[NonNegativeInt, Tag("count")] | Annotated[list[ExpectedRow], Tag("rows")],
        Discriminator(_rejected_shape),
    ] = Field(default=None, description="How many rows are rejected, or the list of rejected rows (every one of them).")  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null

    def documents(self) -> dict[str, ExpectedDocument | None]:
        return dict(self.__pydantic_extra__ or {})


def _something(value: Any) -> Any:
    """`expect:` with nothing under it would check nothing: most likely the totals lost their indentation."""
    if value is None:
        raise ValueError("write the totals to check under it, or leave expect: out")
    return value


class UsageScenario(Strict):
    """A ledger rated under the plan: its documents are the snapshot."""

    description: StrictStr | None = Field(default=None, description="What the scenario shows.")
    plan: StrictStr | None = Field(
        default=None, description="The plan file, relative to this file (default: plans/<plan>.yaml of the folder)."
    )
    period: Text | None = Field(default=None, description="2024-11, 2024-Q4, 2024 or 2024-11-01..2024-11-30 (default: the ledger's).")
    as_of: Text | None = Field(default=None, description="Rate an open period up to this moment, e.g. 2024-04-15.")
    customers: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict, description="Customer attributes by customer id, as in a --customers file."
    )
    usage: list[dict[str, Cell]] | None = Field(
        None, description="Ledger rows written inline: event_id, customer, timestamp and the plan's usage fields."
    )
    usage_file: StrictStr | None = Field(
        None, description="A ledger file (.csv, .jsonl, .parquet) inside the plan's folder, relative to this file."
    )
    expect: Annotated[Expectations, BeforeValidator(_something)] = Field(
        default=None, description="Totals written by hand, checked on every run."
    )  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null


class Case(Strict):
    """One evaluation of the formula."""

    name: StrictStr | None = Field(default=None, description="What the case shows.")
    set: dict[str, Value] = Field(default_factory=dict, description="The formula's inputs, read by their declared types.")
    expect: Value = Field(default=None, description="The value the formula must give.")  # type: ignore[assignment]  # pydantic: a key that may be left out, not written as null


class FormulaScenario(Strict):
    """A named formula of the plan run on listed inputs: the values are the snapshot."""

    description: StrictStr | None = Field(default=None, description="What the scenario shows.")
    plan: StrictStr | None = Field(
        default=None, description="The plan file, relative to this file (default: plans/<plan>.yaml of the folder)."
    )
    formula: StrictStr = Field(description="The plan's formula to run.")
    cases: list[Case] = Field(description="Inputs and the expected value, one evaluation each.")


def _kind(value: Any) -> str:
    return "formula scenario" if isinstance(value, dict) and "formula" in value else "usage scenario"


Scenario = Annotated[
    Annotated[UsageScenario, Tag("usage scenario")] | Annotated[FormulaScenario, Tag("formula scenario")],
    Discriminator(_kind),
]
_SCENARIO: TypeAdapter[UsageScenario | FormulaScenario] = TypeAdapter(
    cast(Any, Scenario)
)  # an Annotated union, which mypy types unsteadily
_KEYS = {
    name
    for model in (ExpectedCredit, ExpectedDocument, ExpectedRow, Expectations, UsageScenario, Case, FormulaScenario)
    for name in model.model_fields
}


def json_schema() -> dict:
    """JSON Schema of scenario files, for editors."""
    schema = _SCENARIO.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ratecard scenario"
    return schema


def read_scenario(path: Path) -> tuple[UsageScenario | FormulaScenario | None, list[Diagnostic]]:
    """The scenario in `path`, or None and every problem with its place."""
    name = str(path)
    if path.suffix != ".yaml":  # listed all the same, so that it is not skipped in silence
        return None, [error(Span(name, 1, 1), f"scenario files end in .yaml: rename it {path.stem}.yaml", "file")]
    try:
        if not path.is_file():
            return None, [error(Span(name, 1, 1), "a scenario is a file; this is not one", "file")]
        if path.stat().st_size > MAX_FILE_BYTES:
            return None, [error(Span(name, 1, 1), f"scenario file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", "file")]
        data = path.read_bytes()
    except OSError as exc:
        return None, [error(Span(name, 1, 1), f"cannot read file: {exc.strerror or exc}", "file")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [not_utf8(name, data, exc)]
    return check_scenario(path, text)


def check_scenario(path: Path, text: str) -> tuple[UsageScenario | FormulaScenario | None, list[Diagnostic]]:
    """The scenario written in `text` (the file `path`), or None and every problem, in file order."""
    doc, problems = read_document(str(path), text)
    if doc is None or problems:
        return None, problems
    if not isinstance(doc.root, Mapping):
        where = doc.root.span if doc.root is not None else Span(str(path), 1, 1)
        return None, [error(where, "a scenario file is a mapping of keys such as description:, period:, usage: and expect:", "schema")]
    data = to_plain(doc.root)
    try:
        scenario = _SCENARIO.validate_python(data)
    except ValidationError as exc:
        whole = "the formula scenario" if _kind(data) == "formula scenario" else "the scenario"
        return None, sorted(located(doc, exc, _KEYS, whole), key=sort_key)
    problems = _usage_problems(doc.root, scenario) if isinstance(scenario, UsageScenario) else []
    problems += _file_problems(doc.root, path, scenario)
    return (None if problems else scenario), sorted(problems, key=sort_key)


def _usage_problems(root: Mapping, scenario: UsageScenario) -> list[Diagnostic]:
    """Where the ledger comes from, and a period and moment that can be read."""
    out = []
    if scenario.usage is not None and scenario.usage_file is not None:
        key, _ = child(root, "usage_file")
        out.append(
            error(
                key.span if key is not None else root.span,
                "give the usage rows inline (usage:) or in a file (usage_file:), not both",
                "schema",
            )
        )
    elif scenario.usage is None and scenario.usage_file is None:
        out.append(error(root.span, "a usage scenario needs usage: (rows written inline, [] for none) or usage_file:", "schema"))
    for field, read in (("period", parse_range), ("as_of", lambda text: parse_as_of(text, "UTC"))):
        value = getattr(scenario, field)
        if value is not None:
            try:
                read(value)
            except PeriodProblem as problem:
                out.append(error(_value_span(root, field), str(problem), "schema"))
    return out


def _value_span(root: Mapping, key: str) -> Span:
    """Where the value of a top-level key is written."""
    _, value = child(root, key)
    return value.span if value is not None else root.span


def _file_problems(root: Mapping, path: Path, scenario: UsageScenario | FormulaScenario) -> list[Diagnostic]:
    """A scenario reads files of its own repository only: the plan within plans/, a ledger
    within the plan's folder, after following any symbolic link, and only regular files."""
    plan_folder = path.parent.parent
    out = []
    named = [("plan", scenario.plan, plan_folder.parent)]
    if isinstance(scenario, UsageScenario):
        named.append(("usage_file", scenario.usage_file, plan_folder))
    for field, value, boundary in named:
        if value is None:
            continue
        try:
            target = Path(os.path.realpath(path.parent / value))
            inside = target.is_relative_to(os.path.realpath(boundary))
            found = inside and target.is_file()
        except (OSError, ValueError):  # a NUL character, a name too long for the system
            inside, found = True, False
        if not inside:
            message = f"{field} {value!r} is outside {boundary} (a scenario reads files of its own plan folder only)"
        elif not found:
            message = f"{field} {value!r} is not a file"
        else:
            continue
        out.append(error(_value_span(root, field), message, "file"))
    return out
