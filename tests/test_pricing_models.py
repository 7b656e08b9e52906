"""The pricing models (dsl/pricing_models.py): one registration per model, read by every stage.

The schema's charge union and the registry name the same models; a model's
registration is what compiling, pricing, `explain`, curves and `check` use
(a registration changed in the test changes all of them); and no module
outside the registry tells models apart by their names.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from decimal import Decimal
from pathlib import Path

import pytest

from dsl import schema
from dsl.errors import warning
from dsl.pricing_models import MODELS, Priced, Step
from interpreter.output.curve import curve
from interpreter.output.explain import explain
from plan_helpers import compile_plan, load_text, rate_csv

ROOT = Path(__file__).resolve().parent.parent

PLAN = """\
plan: registry
currency: KRW
usage: {units: integer}
metrics:
  units: {sum: units}
charges:
  api:
    model: per_unit
    on: units
    unit_price: 10
"""


def schema_models() -> list[str]:
    """The model names the schema accepts, in the order of its charge union."""
    names = []
    for keys in typing.get_args(typing.get_args(schema.Charge)[0]):
        names += typing.get_args(keys.model_fields["model"].annotation)
    return names


def test_the_schema_and_the_registry_name_the_same_models_once():
    assert schema_models() == list(MODELS)
    assert all(name == model.name for name, model in MODELS.items())


@pytest.mark.parametrize("name", list(MODELS))
def test_what_a_model_prices_is_a_key_of_its_charges(name):
    [keys] = [k for k in typing.get_args(typing.get_args(schema.Charge)[0]) if name in typing.get_args(k.model_fields["model"].annotation)]
    fields = typing.get_type_hints(keys, include_extras=True)
    priced_on = MODELS[name].priced_on
    if priced_on == "amount":
        assert "amount" in fields and "on" not in fields
    elif priced_on == "quantity":
        assert fields["on"] == schema.Expression
    else:
        assert priced_on == "events"
        assert fields["on"] != schema.Expression and "where" in fields


def doubled(quantity: Decimal, charge, trace: bool = False) -> Priced:
    amount = quantity * charge.unit_price * 2
    return Priced(amount, (Step("doubled units", quantity, charge.unit_price * 2, amount),) if trace else ())


@pytest.fixture
def per_unit_doubled(monkeypatch):
    """The per_unit registration replaced: twice the price, a check of its own, drawn in steps."""
    changed = dataclasses.replace(
        MODELS["per_unit"],
        price=doubled,
        lint=lambda charge: [warning(charge.span, f"charge {charge.id!r} is doubled", "decrease")],
        stepped=lambda _charge: True,
    )
    monkeypatch.setitem(MODELS, "per_unit", changed)


@pytest.mark.usefixtures("per_unit_doubled")
def test_rating_explain_curves_and_check_read_the_registration(tmp_path):
    plan = compile_plan(PLAN)
    result = rate_csv(
        plan,
        tmp_path,
        """\
        event_id,customer,timestamp,units
        e1,acme,2024-11-05T10:00:00+09:00,3
        """,
        period="2024-11",
        trace=True,
    )
    [doc] = result.documents
    [line] = doc.lines
    assert line.amount == Decimal(60)
    assert "doubled units" in explain(doc, PLAN)
    drawn = curve(plan, "api", Decimal(2))
    assert drawn.steps and drawn.points == ((0, 0), (1, 20), (2, 40))
    assert [(d.span.line, d.message) for d in load_text(PLAN).diagnostics] == [(7, "charge 'api' is doubled")]


def test_without_the_change_the_same_plan_is_priced_as_written(tmp_path):
    plan = compile_plan(PLAN)
    result = rate_csv(plan, tmp_path, "event_id,customer,timestamp,units\ne1,acme,2024-11-05T10:00:00+09:00,3\n", period="2024-11")
    assert [line.amount for line in result.documents[0].lines] == [Decimal(30)]
    assert load_text(PLAN).diagnostics == ()


def model_name_comparisons(path: Path) -> list[int]:
    """Lines of `path` comparing something's `.model` with a model's name (`charge.model == "volume"`)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        reads_model = any(isinstance(side, ast.Attribute) and side.attr == "model" for side in sides)
        names = {c.value for side in sides for c in ast.walk(side) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
        if reads_model and names & set(MODELS):
            out.append(node.lineno)
    return out


def test_no_module_tells_pricing_models_apart_by_name():
    files = [*ROOT.glob("dsl/**/*.py"), *ROOT.glob("interpreter/**/*.py"), ROOT / "cli.py"]
    found = {str(path.relative_to(ROOT)): lines for path in files if (lines := model_name_comparisons(path))}
    assert found == {}
