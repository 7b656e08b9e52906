"""Documents priced by the stage-1 query itself: each one a JSON line, byte for byte what the interpreter writes.

When a plan's every line has an exact SQL form (`unsupported` says why
not), the aggregate query of stage 1 is wrapped in one that prices each
charge with its model's SQL (`dsl.pricing_sql`), bounds it, rounds it once
to the currency's minor unit in the charge's mode, adds the taxes on the
rounded subtotal and writes the document as text: no Python per document.

The Python interpreter stays the reference. A document the SQL cannot
vouch for exactly comes out as NULL and is built by the interpreter from
its facts, which the same query keeps (`fallback_sql`): a value beyond the
digits the plan's prices leave in DECIMAL(38), a customer id with control
characters (escaped differently in JSON), or a time-weighted quantity whose
exact amount falls on an edge (half a cent, a whole package) where the
interpreter's 40-digit quotient could fall on the other side.
"""

from __future__ import annotations

import os
from decimal import Decimal
from json.encoder import encode_basestring as json_text

from dsl import tree
from dsl.pricing_models import MODELS
from dsl.pricing_sql import Ratio, number
from interpreter.ledger.sql import ident, literal
from interpreter.periods import Period

# "python": every document is built by the interpreter (a check of the SQL, or a way around it)
PRICING_ENV = "RATECARD_PRICING"
QUANTITIES = ("sum", "count", "max", "min", "unique", "last", "opening", "time_weighted", "prorated")
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_FOLDS = 3  # digits taken by a denominator (at most 366 days) and by summing a charge's tiers


def unsupported(plan: tree.Plan) -> str | None:
    """Why the interpreter builds this plan's documents (None: SQL prices them)."""
    if os.environ.get(PRICING_ENV, "").strip().lower() == "python":
        return f"{PRICING_ENV}=python"
    if plan.kind != "invoice":
        return "settlement statements are priced by the interpreter"
    features = {
        "customer attributes": plan.customer,
        "discounts": plan.discounts,
        "a minimum commitment": plan.minimum,
        "credits": plan.credits,
        "notices": plan.notices,
        "previous periods": plan.uses_previous,
    }
    for name, present in features.items():
        if present:
            return f"the plan has {name}"
    for tax in plan.taxes:
        if tax.when is not None or tax.included:
            return f"tax {tax.id!r} has a condition or is included in prices"
    for charge in plan.charges:
        reason = _charge_unsupported(plan, charge)
        if reason:
            return f"charge {charge.id!r}: {reason}"
    if _headroom(plan) < 6:
        return "its prices leave too few digits for quantities in DECIMAL(38)"
    return None


def exact_types(columns: dict[str, str]) -> bool:
    """Whether every value stage 1 hands over (its columns: name -> DuckDB type) is exact with at most
    10 decimal places: the pricing casts them to DECIMAL(38,10)."""
    for name, duck in columns.items():
        if name.startswith("__") or duck in _INTEGER_TYPES:
            continue
        if not duck.startswith("DECIMAL(") or int(duck[:-1].split(",")[1]) > 10:
            return False
    return True


def _charge_unsupported(plan: tree.Plan, charge: tree.Charge) -> str | None:
    model = MODELS[charge.model]
    if model.sql is None:
        return f"the {charge.model} model has no SQL form"
    if charge.when is not None or charge.multiplier is not None or charge.group_by:
        return "a condition, a multiplier or groups"
    if model.priced_on == "amount":
        amount = charge.amount
        return None if isinstance(amount, tree.Const) and isinstance(amount.value, Decimal) else "an amount computed by an expression"
    if model.priced_on == "quantity" and _metric(plan, charge.quantity) is None:
        return "a quantity other than an aggregated metric"
    return None


def _metric(plan: tree.Plan, expr: tree.Expr | None) -> tree.Metric | None:
    if not isinstance(expr, tree.Ref) or expr.scope != "metric":
        return None
    metric = next(m for m in plan.metrics if m.name == expr.name)
    return metric if metric.aggregation in QUANTITIES and metric.expression is None else None


def _constants(plan: tree.Plan) -> tuple[list[Decimal], list[Decimal]]:
    """The plan's constants that multiply or are added to amounts, and every constant (for their scale)."""
    priced: list[Decimal] = []
    for ch in plan.charges:
        values = [ch.unit_price, ch.package_price, ch.fixed_fee, ch.min_fee, ch.max_fee, ch.minimum, ch.maximum, ch.rate]
        values += [t.unit_price for t in ch.tiers] + [t.flat for t in ch.tiers] + [t.block_price for t in ch.tiers]
        if isinstance(ch.amount, tree.Const):
            values.append(ch.amount.value)
        priced += [v for v in values if v is not None]
    priced += [t.rate for t in plan.taxes]
    every = priced + [v for ch in plan.charges for v in (ch.free_units, ch.package_size) if v is not None]
    every += [v for ch in plan.charges for t in ch.tiers for v in (t.bound, t.block) if v is not None]
    return priced, every


def _scale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _digits(value: Decimal) -> int:
    return len(str(int(abs(value)))) if abs(value) >= 1 else 0


def amount_scale(plan: tree.Plan) -> int:
    """The scale every unrounded amount is held at: a quantity's 10 decimal places and a price's."""
    return 10 + max((_scale(v) for v in _constants(plan)[1]), default=0)


def _headroom(plan: tree.Plan) -> int:
    """How many whole digits a quantity may have so that no amount overflows DECIMAL(38) at `amount_scale`."""
    priced, every = _constants(plan)
    widest = max((_digits(v) for v in every), default=0)
    return min(38 - amount_scale(plan) - 1 - max((_digits(v) for v in priced), default=0) - 2 * _FOLDS, 37 - 10 - widest - _FOLDS)


def _whole(value: str, scale: int) -> str:
    """A DECIMAL with at most `scale` decimal places as a HUGEINT count of 10^-scale (whole part and
    fraction apart: the fraction times 10^scale stays within DECIMAL(38) where the whole value may not)."""
    power = 10**scale
    whole = f"trunc(CAST({value} AS DECIMAL(38,{scale})))"
    fraction = f"((CAST({value} AS DECIMAL(38,{scale})) - {whole}) * CAST('{power}' AS DECIMAL(38,0)))"
    return f"(CAST({whole} AS HUGEINT) * CAST('{power}' AS HUGEINT) + CAST({fraction} AS HUGEINT))"


def _rounded(whole: str, den: str | None, scale: int, digits: int, mode: str) -> tuple[str, str]:
    """`whole` (a HUGEINT count of 10^-scale) over `den` rounded to `digits` places in `mode`, as
    DECIMAL(38, digits); and the condition that the exact quotient lies on the mode's edge."""
    divisor = f"CAST('{10 ** (scale - digits)}' AS HUGEINT)"
    divisor = divisor if den is None else f"({divisor} * CAST({den} AS HUGEINT))"
    q, r = f"(abs({whole}) // {divisor})", f"(abs({whole}) % {divisor})"
    up = {
        "half_up": f"2 * {r} >= {divisor}",
        "half_even": f"2 * {r} > {divisor} OR (2 * {r} = {divisor} AND {q} % 2 = 1)",
        "up": f"{r} > 0",
        "down": "FALSE",
    }[mode]
    edge = f"(2 * {r} = {divisor})" if mode.startswith("half") else f"({r} = 0)"
    units = f"(sign({whole}) * ({q} + CASE WHEN {up} THEN 1 ELSE 0 END))"
    return f"(CAST({units} AS DECIMAL(38,0)) * {number(Decimal(1).scaleb(-digits))})", edge


def _text(value: str) -> str:
    return f"CAST({value} AS VARCHAR)"


class Documents:
    """The SQL of one plan's documents over its stage-1 query, for the periods of that query.

    The query is built in layers, each a SELECT over the one before, so that
    every value is computed once and later layers name it by its column.
    """

    def __init__(self, plan: tree.Plan, periods: list[Period], estimate: bool) -> None:
        self.plan, self.periods, self.estimate = plan, periods, estimate
        self.scale = amount_scale(plan)
        self.limit = f"CAST('1{'0' * _headroom(plan)}' AS DECIMAL(38,0))"
        self.layers: list[list[tuple[str, str]]] = []
        self.names = 0

    def _column(self, layer: int, sql: str) -> str:
        while len(self.layers) <= layer:
            self.layers.append([])
        self.names += 1
        name = f"__v{self.names}"
        self.layers[layer].append((name, sql))
        return name

    def sql(self, stage1: str, document: str = "TRUE") -> str:
        """A SELECT of stage 1's rows with `__doc`: the document's JSON line, or NULL where the interpreter builds it.

        `document` is the SQL condition that a row of `stage1` (named `g`) is a document at all.
        """
        self.layers, self.names = [], 0
        ok = ["NOT regexp_matches(__customer, '[\\x00-\\x1f]')"]
        lines, amounts = [], []
        for charge in self.plan.charges:
            text, amount, guard = self._line(charge)
            lines.append(text)
            ok.append(guard)
            if not charge.memo:
                amounts.append(amount)
        digits = self.plan.minor_digits
        sub = self._column(6, "(" + " + ".join([number(Decimal(0).scaleb(-digits)), *amounts]) + ")")
        taxes, tax_amounts = [], []
        for tax in self.plan.taxes:
            amount, _ = self._round(f"({sub} * {number(tax.rate)})", None, digits + _scale(tax.rate), digits, tax.rounding, 7)
            tax_amounts.append(amount)
            head = f'{{"id":{json_text(tax.id)},"rate":"{_rate_text(tax.rate)}","base":"'
            taxes.append(f'{literal(head)} || {_text(sub)} || \'","amount":"\' || {_text(amount)} || \'"}}\'')
        total = "(" + " + ".join([sub, *tax_amounts]) + ")"
        body = " || ',' || ".join(lines) if lines else "''"
        tax_body = " || ',' || ".join(taxes) if taxes else "''"
        json = (
            f"""'{{"customer":' || to_json(__customer)::VARCHAR || __head || {body} || '],"subtotal":"' || {_text(sub)} """
            f"""|| '","taxes":[' || {tax_body} || '],"total":"' || {_text(total)} || '","notices":[]' || __tail || '}}'"""
        )
        guard = " AND ".join(f"({g})" for g in ok)
        query = f"""
            SELECT g.*, p.__start, p.__days, p.__head, p.__tail
            FROM ({stage1}) AS g JOIN (VALUES {self._periods()}) AS p(__pid, __start, __days, __head, __tail) ON g.__pid = p.__pid
        """
        for layer in self.layers:
            query = f"SELECT *, {', '.join(f'{sql} AS {name}' for name, sql in layer)} FROM ({query})" if layer else query
        kept = "g.* EXCLUDE (__start, __days, __head, __tail" + "".join(f", {n}" for layer in self.layers for n, _ in layer) + ")"
        return f"SELECT {kept}, CASE WHEN ({document}) AND {guard} THEN {json} END AS __doc FROM ({query}) AS g"

    def _round(self, value: str, den: str | None, scale: int, digits: int, mode: str, layer: int) -> tuple[str, str]:
        """The column of `value / den` rounded as `_rounded` does (computed in layers `layer` and the next),
        and the condition that it lay on the mode's edge. Without a denominator, DuckDB's own rounding
        (half away from zero) serves half_up, and a value with no more places than `digits` needs none."""
        if den is None and mode == "half_up":
            # cast: round() keeps a scale below `digits` (0.5 at scale 1 stays "0.5", not "0.50")
            return self._column(layer + 1, f"CAST(round({value}, {digits}) AS DECIMAL(38,{digits}))"), "FALSE"
        if den is None:  # computed only for a value with more places (a CASE evaluates the branch it takes)
            rounded, edge = _rounded(_whole(value, scale), den, scale, digits, mode)
            places = f"CAST({value} AS DECIMAL(38,{digits}))"
            return self._column(layer + 1, f"CASE WHEN {value} = round({value}, {digits}) THEN {places} ELSE {rounded} END"), edge
        rounded, edge = _rounded(self._column(layer, _whole(value, scale)), den, scale, digits, mode)
        return self._column(layer + 1, rounded), edge

    def _periods(self) -> str:
        from interpreter.pricing.documents import schedule  # the interpreter's own: the very same text

        rows = []
        for index, period in enumerate(self.periods):
            head = (
                f',"plan":{json_text(self.plan.id)},"kind":"invoice","currency":{json_text(self.plan.currency)},'
                f'"period":{{"start":"{period.start.isoformat()}","end":"{period.end.isoformat()}"}},"lines":['
            )
            shown = schedule(self.plan, period.full_end)
            tail = (',"schedule":' + _compact(shown) if shown else "") + (',"estimate":true' if self.estimate else "")
            rows.append(f"({index}, {literal(period.start)}, {period.days}, {literal(head)}, {literal(tail)})")
        return ", ".join(rows)

    def _bounded(self, column: str) -> tuple[str, str]:
        """A stage-1 value as DECIMAL(38,10) (0 for an aggregate over no rows), NULL past the headroom;
        and the condition that it is within."""
        within = f"abs({column}) < {self.limit}"
        value = f"CASE WHEN {column} IS NULL THEN CAST(0 AS DECIMAL(38,10)) WHEN {within} THEN CAST({column} AS DECIMAL(38,10)) END"
        return self._column(0, value), f"{column} IS NULL OR {within}"

    def _ratio(self, metric: tree.Metric) -> tuple[Ratio, str, list[str]]:
        """The metric's value as a ratio, the SQL saying its quotient is exact, and its guards."""
        if metric.aggregation in ("time_weighted", "prorated"):
            held, held_ok = self._bounded(ident(metric.name + ".__held"))
            if metric.aggregation == "prorated":
                num, guards = held, [held_ok]
            else:
                base, base_ok = self._bounded(ident(metric.name + ".__base"))
                days = "CAST(date_diff('day', __start, __we) + 1 AS DECIMAL(18,0))"
                num, guards = self._column(1, f"({base} * {days} + {held})"), [held_ok, base_ok]
            whole = self._column(2, _whole(num, 10))
            return Ratio(num, "__days"), f"{whole} % __days = 0", guards
        value, ok = self._bounded(ident(metric.name + ".__base" if metric.aggregation == "opening" else metric.name))
        return Ratio(value), "TRUE", [ok]

    def _line(self, charge: tree.Charge) -> tuple[str, str, str]:
        """The line's JSON (SQL), the column of its rounded amount, and the guard of its exactness."""
        model = MODELS[charge.model]
        assert model.sql is not None  # `unsupported` let only models with an SQL form through
        guards: list[str] = []
        exact = "TRUE"
        quantity = "'null'"
        if model.priced_on == "events":
            columns = {}
            for part in ("__sum", "__count", "__low", "__high"):
                columns[f"{charge.id}.{part}"], ok = self._bounded(ident(f"{charge.id}.{part}"))
                guards.append(ok)
            ratio = Ratio("", scale=self.scale)
            priced = model.sql(columns, charge)
        elif model.priced_on == "amount":
            assert isinstance(charge.amount, tree.Const)
            ratio = Ratio(number(charge.amount.value), scale=self.scale)
            priced = model.sql(ratio, charge)
        else:
            metric = _metric(self.plan, charge.quantity)
            assert metric is not None
            ratio, exact, more = self._ratio(metric)
            ratio = Ratio(ratio.num, ratio.den, self.scale)
            guards += more
            priced = model.sql(ratio, charge)
            shown = self._column(3, _text(self._round(ratio.num, ratio.den, 10, 6, "half_even", 2)[0]))
            quantity = f"""'"' || rtrim(rtrim({shown}, '0'), '.') || '"'"""
        raw = self._column(2, priced.num)
        edges = [f"({edge})" for edge in priced.edges]
        value = raw
        if charge.minimum is not None or charge.maximum is not None:
            cases = []
            for bound, op in ((charge.minimum, "<"), (charge.maximum, ">")):
                if bound is not None:
                    cases.append(f"WHEN {raw} {op} {ratio.times(bound)} THEN {ratio.amount(ratio.times(bound))}")
                    edges.append(f"({raw} = {ratio.times(bound)})")
            value = self._column(3, f"CASE {' '.join(cases)} ELSE {ratio.amount(raw)} END")
        amount, edge = self._round(value, ratio.den, self.scale, self.plan.minor_digits, charge.rounding, 4)
        if ratio.den is not None:  # the interpreter's 40-digit quantity may fall either side of an exact edge
            guards.append(f"({exact}) OR NOT ({' OR '.join([edge, *edges])})")
        head = f'{{"id":{json_text(charge.id)},"description":{json_text(charge.name)},"quantity":'
        memo = ',"memo":true' if charge.memo else ""
        text = f"""{literal(head)} || {quantity} || ',"amount":"' || {_text(amount)} || {literal('"' + memo + "}")}"""
        return text, amount, " AND ".join(f"({g})" for g in guards) or "TRUE"


def _compact(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _rate_text(rate: Decimal) -> str:
    from interpreter.output.render import rate_text

    return rate_text(rate)
