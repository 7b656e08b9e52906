"""Documents priced by the stage-1 query itself: each one a JSON line, byte for byte what the interpreter writes.

When a plan's every line has an exact SQL form (`unsupported` says why
not: credits, carried discounts, groups, settlement statements, quotients
and functions in expressions are the interpreter's; customer attributes
come from a table, `priced_attributes`),
the aggregate query of stage 1 is wrapped in one that prices each charge
with its model's SQL (`dsl.pricing_sql`), applies its condition,
multiplier and bounds, rounds it once to the currency's minor unit in its
mode, takes the discounts (`priced_discounts`) and the minimum, adds the
taxes on the rounded subtotal, and writes the document as text: no Python
per document. Expressions go through `priced_expressions`.

The Python interpreter stays the reference. A document the SQL cannot
vouch for exactly comes out as NULL and is built by the interpreter from
its facts, which the same query keeps: a value beyond the
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
from interpreter.ledger.priced_attributes import Attributes
from interpreter.ledger.priced_discounts import Discounts
from interpreter.ledger.priced_expressions import MAX_SCALE, NoSql, Sql, digits_of, power, rounded, scale_of, sql as expression_sql, whole
from interpreter.ledger.sql import ident, literal
from interpreter.output.render import compact, rate_text
from interpreter.periods import Period
from interpreter.pricing.documents import schedule  # the interpreter's own: the very same text

# "python": every document is built by the interpreter (a check of the SQL, or a way around it)
PRICING_ENV = "RATECARD_PRICING"
QUANTITIES = ("sum", "count", "max", "min", "unique", "last", "opening", "time_weighted", "prorated")
_FOLDS = 3  # digits taken by a denominator (at most 366 days) and by summing a charge's tiers


def unsupported(plan: tree.Plan) -> str | None:
    """Why the interpreter builds this plan's documents (None: SQL prices them)."""
    if os.environ.get(PRICING_ENV, "").strip().lower() == "python":
        return f"{PRICING_ENV}=python"
    if plan.kind != "invoice":
        return "settlement statements are priced by the interpreter"
    features = {
        "credits": plan.credits,
        "previous periods": plan.uses_previous,
        "discounts carried over": any(d.carry for d in plan.discounts),
        "groups": any(ch.group_by for ch in plan.charges),
    }
    for name, present in features.items():
        if present:
            return f"the plan has {name}"
    for charge in plan.charges:
        if MODELS[charge.model].sql is None:
            return f"charge {charge.id!r}: the {charge.model} model has no SQL form"
        if MODELS[charge.model].priced_on == "quantity" and _metric(plan, charge.quantity) is None:
            return f"charge {charge.id!r}: a quantity other than an aggregated metric"
    try:
        Documents(plan, [], False).sql("SELECT 1")
    except NoSql as problem:
        return str(problem)
    return None


def _metric(plan: tree.Plan, expr: tree.Expr | None) -> tree.Metric | None:
    if not isinstance(expr, tree.Ref) or expr.scope != "metric":
        return None
    metric = next(m for m in plan.metrics if m.name == expr.name)
    return metric if metric.aggregation in QUANTITIES and metric.expression is None else None


def _priced_constants(plan: tree.Plan) -> list[Decimal]:
    """The plan's constants that multiply quantities or are added to amounts."""
    priced: list[Decimal] = []
    for ch in plan.charges:
        values = [ch.unit_price, ch.package_price, ch.fixed_fee, ch.min_fee, ch.max_fee, ch.minimum, ch.maximum, ch.rate]
        values += [t.unit_price for t in ch.tiers] + [t.flat for t in ch.tiers] + [t.block_price for t in ch.tiers]
        priced += [v for v in values if v is not None]
    return priced


def _bounds(plan: tree.Plan) -> list[Decimal]:
    """The plan's constants that quantities are compared with or divided into."""
    out = [v for ch in plan.charges for v in (ch.free_units, ch.package_size) if v is not None]
    return out + [v for ch in plan.charges for t in ch.tiers for v in (t.bound, t.block) if v is not None]


def _text(value: str) -> str:
    return f"CAST({value} AS VARCHAR)"


def _json(parts: list[str]) -> str:
    """A JSON array's inside from SQL pieces, each NULL when its item is not on the document."""
    return f"concat_ws(',', {', '.join(parts)})" if parts else "''"


class TooWide(NoSql):
    """Numbers too wide for DECIMAL(38) with this many whole digits of quantities: try fewer."""


class Documents:
    """The SQL of one plan's documents over its stage-1 query, for the periods of that query.

    The query is built in layers, each a SELECT over the one before, so that
    every value is computed once and later layers name it by its column.
    Quantities may have `headroom` whole digits (a document with a larger
    one is the interpreter's); unrounded amounts are held at `scale` places.
    """

    def __init__(self, plan: tree.Plan, periods: list[Period], estimate: bool, attributes: Attributes | None = None) -> None:
        self.plan, self.periods, self.estimate = plan, periods, estimate
        self.attributes = attributes or Attributes(plan, {}, known=False)
        self.digits = plan.minor_digits
        self.zero = number(Decimal(0).scaleb(-self.digits))
        self.layers: list[list[tuple[str, str]]] = []
        self.names = 0
        self.headroom = 15
        self.scale = 20
        self.guards: list[str] = []
        self.metrics: dict[str, tuple[str, str]] = {}

    def sql(self, stage1: str, document: str = "TRUE") -> str:
        """A SELECT of stage 1's rows with `__doc`: the document's JSON line, or NULL where the interpreter builds it.

        `document` is the SQL condition that a row of `stage1` (named `g`) is a document at all.
        Raises `NoSql` when some part of the plan has no exact SQL form.
        """
        problem: NoSql = TooWide("its prices leave too few digits for quantities in DECIMAL(38)")
        for headroom in range(15, 5, -1):
            try:
                return self._build(stage1, document, headroom)
            except TooWide as exc:
                problem = exc
        raise problem

    def column(self, layer: int, sql: str) -> str:
        while len(self.layers) <= layer:
            self.layers.append([])
        self.names += 1
        name = f"__v{self.names}"
        self.layers[layer].append((name, sql))
        return name

    def _build(self, stage1: str, document: str, headroom: int) -> str:
        self.layers, self.names, self.headroom, self.metrics = [], 0, headroom, {}
        self.guards = ["NOT regexp_matches(__customer, '[\\x00-\\x1f]')"]
        self.limit = f"CAST('1{'0' * headroom}' AS DECIMAL(38,0))"
        self.scale = self._amount_scale()
        lines, parts = [], []  # the lines' JSON pieces, and (present, amount) of those in the subtotal
        for charge in self.plan.charges:
            text, present, amount = self._charge(charge)
            lines.append(f"CASE WHEN {present} THEN {text} END")
            if not charge.memo:
                parts.append((charge.id, present, amount))
        layer = max(len(self.layers), 6)
        texts, parts, unused, layer = Discounts(self, parts, layer).lines()
        lines += texts
        subtotal = self.column(
            layer, "(" + " + ".join([self.zero, *(f"CASE WHEN {p} THEN {a} ELSE {self.zero} END" for _, p, a in parts)]) + ")"
        )
        if self.plan.minimum is not None:
            minimum = self.expression(self.plan.minimum)
            rounded, _ = self.round_column(
                minimum.at(max(minimum.scale, self.digits)), None, max(minimum.scale, self.digits), self.plan.rounding, layer + 1
            )
            short = f"{subtotal} < {rounded}"
            head = literal('{"id":"minimum","description":"Minimum commitment true-up","quantity":null,"amount":"')
            lines.append(f"CASE WHEN {short} THEN {head} || {_text(f'({rounded} - {subtotal})')} || '\"}}' END")
            subtotal = self.column(layer + 3, f"CASE WHEN {short} THEN {rounded} ELSE {subtotal} END")
            layer += 3
        taxes, total = self._taxes(subtotal, layer + 1)
        notices = [f"CASE WHEN {self.condition(n.when)} THEN {literal(_notice(n.id, n.message))} END" for n in self.plan.notices]
        json = (
            f"""'{{"customer":' || to_json(__customer)::VARCHAR || __head || {_json(lines)} || '],"subtotal":"' || {_text(subtotal)} """
            f"""|| '","taxes":[' || {_json(taxes)} || '],"total":"' || {_text(total)} || '","notices":[' """
            f"""|| {_json(notices + unused)} || ']' || __tail || '}}'"""
        )
        customers = ""
        if self.plan.customer:  # their attributes, and only the customers the interpreter would give them to
            self.guards.append(self.attributes.guard())
            customers = self.attributes.join()
        guard = " AND ".join(f"({g})" for g in self.guards)
        query = f"""
            SELECT g.*, p.__start, p.__end, p.__days, p.__head, p.__tail{", ca.* EXCLUDE (__customer)" if customers else ""}
            FROM ({stage1}) AS g LEFT JOIN (VALUES {self._periods()}) AS p(__pid, __start, __end, __days, __head, __tail) ON g.__pid = p.__pid
            {customers}
        """
        for columns in self.layers:
            query = f"SELECT *, {', '.join(f'{sql} AS {name}' for name, sql in columns)} FROM ({query})" if columns else query
        helpers = "".join(f", {name}" for columns in self.layers for name, _ in columns)
        attributes = "".join(f", __a{i}" for i in range(len(self.plan.customer))) + (", __ok" if self.plan.customer else "")
        kept = f"g.* EXCLUDE (__start, __end, __days, __head, __tail{attributes}{helpers})"
        return f"SELECT {kept}, CASE WHEN ({document}) AND {guard} THEN {json} END AS __doc FROM ({query}) AS g"

    def _amount_scale(self) -> int:
        """The places every unrounded amount is held at: a quantity's 10 and a price's, times a multiplier's."""
        constants = _priced_constants(self.plan) + _bounds(self.plan)
        places = 10 + max((scale_of(v) for v in constants), default=0)
        for charge in self.plan.charges:
            if charge.amount is not None and MODELS[charge.model].priced_on == "amount":
                places = max(places, self.expression(charge.amount).scale)
            if charge.multiplier is not None:
                places += self.expression(charge.multiplier).scale
        if places > MAX_SCALE + 10:
            raise NoSql("amounts with too many decimal places for DECIMAL(38)")
        return places

    def round_column(self, value: str, den: str | None, scale: int, mode: str, layer: int, divisor: str | None = None) -> tuple[str, str]:
        """The column of `value / den` (at most `scale` places) rounded to the currency's digits in `mode`
        (computed in layers `layer` and the next), and the condition that it lay on the mode's edge.
        `divisor` replaces 10^(scale - digits) x den. Without a denominator, DuckDB's own rounding
        (half away from zero) serves half_up, and a value with no more places needs none."""
        digits = self.digits
        if den is None and divisor is None and mode == "half_up":
            # cast: round() keeps a scale below `digits` (0.5 at scale 1 stays "0.5", not "0.50")
            return self.column(layer + 1, f"CAST(round({value}, {digits}) AS DECIMAL(38,{digits}))"), "FALSE"
        places = power(scale - digits)
        by = divisor or (places if den is None else f"({places} * CAST({den} AS HUGEINT))")
        if den is None and divisor is None:  # computed only for a value with more places (a CASE evaluates the branch it takes)
            exact, edge = rounded(whole(value, scale), by, digits, mode)
            plain = f"CAST({value} AS DECIMAL(38,{digits}))"
            return self.column(layer + 1, f"CASE WHEN {value} = round({value}, {digits}) THEN {plain} ELSE {exact} END"), edge
        exact, edge = rounded(self.column(layer, whole(value, scale)), by, digits, mode)
        return self.column(layer + 1, exact), edge

    def _periods(self) -> str:
        rows = []
        for index, period in enumerate(self.periods):
            head = (
                f',"plan":{json_text(self.plan.id)},"kind":"invoice","currency":{json_text(self.plan.currency)},'
                f'"period":{{"start":"{period.start.isoformat()}","end":"{period.end.isoformat()}"}},"lines":['
            )
            shown = schedule(self.plan, period.full_end)
            tail = (',"schedule":' + compact(shown) if shown else "") + (',"estimate":true' if self.estimate else "")
            rows.append(f"({index}, {literal(period.start)}, {literal(period.end)}, {period.days}, {literal(head)}, {literal(tail)})")
        return ", ".join(rows) or "(0, DATE '2000-01-01', DATE '2000-01-01', 1, '', '')"

    # -- values ------------------------------------------------------------------------------

    def _bounded(self, column: str) -> str:
        """A stage-1 number as DECIMAL(38,10) (0 for an aggregate over no rows), NULL past the headroom
        (the document is then the interpreter's)."""
        within = f"abs({column}) < {self.limit}"
        self.guards.append(f"{column} IS NULL OR {within}")
        return self.column(
            0, f"CASE WHEN {column} IS NULL THEN CAST(0 AS DECIMAL(38,10)) WHEN {within} THEN CAST({column} AS DECIMAL(38,10)) END"
        )

    def _ref(self, ref: tree.Ref) -> Sql:
        if ref.scope == "period":
            if ref.name == "days":
                return Sql("CAST(__days AS DECIMAL(38,0))", "number", 0, 3)
            return Sql(f"__{ref.name}", "date")
        if ref.scope == "customer":
            return self.attributes.ref(ref.name)
        if ref.scope != "metric":
            raise NoSql(f"a {ref.scope} value in an expression")
        metric = next(m for m in self.plan.metrics if m.name == ref.name)
        if metric.expression is not None:
            return self.expression(metric.expression)
        kind = metric.type.kind
        if kind in ("text", "bool"):  # the value of no rows: "" or false, as the interpreter has it
            return Sql(f"coalesce({ident(metric.name)}, {'FALSE' if kind == 'bool' else literal('')})", kind)
        if kind == "date" or metric.aggregation in ("time_weighted", "prorated"):
            raise NoSql(f"the {metric.aggregation} metric {metric.name!r} in an expression")
        key = metric.name + ".__base" if metric.aggregation == "opening" else metric.name
        if key not in self.metrics:
            self.metrics[key] = (self._bounded(ident(key)), "")
        if kind == "integer":  # a count, say: whole numbers, held without places
            return Sql(f"CAST({self.metrics[key][0]} AS DECIMAL(38,0))", "number", 0, self.headroom)
        return Sql(self.metrics[key][0], "number", 10, self.headroom)

    def expression(self, expr: tree.Expr) -> Sql:
        return expression_sql(expr, self._ref)

    def condition(self, expr: tree.Expr | None) -> str:
        return "TRUE" if expr is None else f"coalesce({self.expression(expr).text}, FALSE)"

    def _ratio(self, metric: tree.Metric) -> tuple[Ratio, str]:
        """The metric's value as a ratio, and the SQL saying its quotient is exact."""
        if metric.aggregation in ("time_weighted", "prorated"):
            held = self._bounded(ident(metric.name + ".__held"))
            num = held
            if metric.aggregation == "time_weighted":
                base = self._bounded(ident(metric.name + ".__base"))
                num = self.column(1, f"({base} * CAST(date_diff('day', __start, __we) + 1 AS DECIMAL(18,0)) + {held})")
            units = self.column(2, whole(num, 10))
            return Ratio(num, "__days", self.scale), f"{units} % __days = 0"
        return Ratio(self._ref(tree.Ref("metric", metric.name, metric.type, metric.span)).text, None, self.scale), "TRUE"

    def _quantity(self, ratio: Ratio) -> str:
        """A line's quantity as `render.quantity_text` has it before trimming: half-even to 6 places."""
        if ratio.den is None:  # the exact way only for a value with more places (the CASE branch taken)
            exact, _ = rounded(whole(ratio.num, 10), power(4), 6, "half_even")
            return f"CASE WHEN {ratio.num} = round({ratio.num}, 6) THEN CAST({ratio.num} AS DECIMAL(38,6)) ELSE {exact} END"
        return rounded(self.column(2, whole(ratio.num, 10)), f"({power(4)} * CAST({ratio.den} AS HUGEINT))", 6, "half_even")[0]

    # -- charges, taxes ----------------------------------------------------------------------

    def _charge(self, charge: tree.Charge) -> tuple[str, str, str]:
        """The line's JSON (SQL), the condition it is on the document, and the column of its rounded amount."""
        model = MODELS[charge.model]
        assert model.sql is not None  # `unsupported` let only models with an SQL form through
        exact, quantity, digits = "TRUE", "'null'", self.headroom + _widest(_priced_constants(self.plan)) + 2 * _FOLDS
        if model.priced_on == "events":
            names = [f"{charge.id}.{part}" for part in ("__sum", "__count", "__low", "__high")]
            ratio = Ratio("", None, self.scale)
            priced = model.sql({name: self._bounded(ident(name)) for name in names}, charge)
        elif model.priced_on == "amount":
            assert charge.amount is not None
            given = self.expression(charge.amount)
            ratio, digits = Ratio(given.text, None, self.scale), given.digits
            priced = model.sql(ratio, charge)
        else:
            metric = _metric(self.plan, charge.quantity)
            assert metric is not None
            ratio, exact = self._ratio(metric)
            priced = model.sql(ratio, charge)
            shown = self.column(3, _text(self._quantity(ratio)))
            quantity = f"""'"' || rtrim(rtrim({shown}, '0'), '.') || '"'"""
        raw, edges = priced.num, [f"({edge})" for edge in priced.edges]
        if charge.multiplier is not None:
            factor = self.expression(charge.multiplier)
            raw, digits = f"({raw} * {factor.text})", digits + factor.digits
        if digits + self.scale > 37:
            raise TooWide("its amounts leave too few digits for quantities in DECIMAL(38)")
        raw = self.column(2, raw)
        value = raw
        if charge.minimum is not None or charge.maximum is not None:
            cases = []
            for bound, op in ((charge.minimum, "<"), (charge.maximum, ">")):
                if bound is not None:
                    cases.append(f"WHEN {raw} {op} {ratio.times(bound)} THEN {ratio.amount(ratio.times(bound))}")
                    edges.append(f"({raw} = {ratio.times(bound)})")
            value = self.column(3, f"CASE {' '.join(cases)} ELSE {ratio.amount(raw)} END")
        amount, edge = self.round_column(value, ratio.den, self.scale, charge.rounding, 4)
        if ratio.den is not None:  # the interpreter's 40-digit quantity may fall either side of an exact edge
            self.guards.append(f"({exact}) OR NOT ({' OR '.join([edge, *edges])})")
        head = f'{{"id":{json_text(charge.id)},"description":{json_text(charge.name)},"quantity":'
        memo = ',"memo":true' if charge.memo else ""
        text = f"""{literal(head)} || {quantity} || ',"amount":"' || {_text(amount)} || {literal('"' + memo + "}")}"""
        return text, self.condition(charge.when), amount

    def _taxes(self, subtotal: str, layer: int) -> tuple[list[str], str]:
        """The taxes' JSON pieces and the total's SQL."""
        pieces, added = [], []
        for tax in self.plan.taxes:
            places = self.digits + scale_of(tax.rate)
            value = f"({subtotal} * {number(tax.rate)})"
            if tax.included:  # subtotal x rate / (1 + rate): a quotient that ends wherever it lies on an edge
                divisor = f"CAST('{(1 + tax.rate).scaleb(scale_of(tax.rate)):f}' AS HUGEINT)"
                amount, _ = self.round_column(value, None, places, tax.rounding, layer, divisor)
            else:
                amount, _ = self.round_column(value, None, places, tax.rounding, layer)
            present = self.condition(tax.when)
            head = f'{{"id":{json_text(tax.id)},"rate":"{rate_text(tax.rate)}","base":"'
            included = ',"included":true' if tax.included else ""
            piece = f"""{literal(head)} || {_text(subtotal)} || '","amount":"' || {_text(amount)} || {literal('"' + included + "}")}"""
            pieces.append(f"CASE WHEN {present} THEN {piece} END")
            if not tax.included:
                added.append(f"CASE WHEN {present} THEN {amount} ELSE {self.zero} END")
        return pieces, "(" + " + ".join([subtotal, *added]) + ")"


def _widest(values: list[Decimal]) -> int:
    return max((digits_of(v) for v in values), default=0)


def _notice(nid: str, message: str) -> str:
    return f'{{"id":{json_text(nid)},"message":{json_text(message)}}}'
