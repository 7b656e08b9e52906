"""The discount lines of documents priced in SQL, as `interpreter.pricing.discounts` makes them.

Each discount (granted by its `when:`, on the charges of `applies_to` that
are on the document) takes a rounded part of what earlier discounts left of
them, never more than their sum nor less than zero, from each charge in turn;
what it cannot take is dropped with a notice saying so. Carried discounts
are the interpreter's (`priced.unsupported`). The charge a discount takes
from keeps what is left in a column of its own for the discounts after it:
what earlier ones took is the sum of the positive parts before it, so no
running total needs a loop.
"""

from __future__ import annotations

from json.encoder import encode_basestring as json_text
from typing import Protocol

from dsl import tree
from interpreter.ledger.priced_expressions import NoSql, Sql
from interpreter.ledger.sql import literal


class Columns(Protocol):
    """What the discounts need of the document query they are part of (`priced.Documents`)."""

    plan: tree.Plan
    digits: int  # the currency's
    zero: str  # 0 at the currency's places

    def column(self, layer: int, sql: str) -> str: ...
    def condition(self, expr: tree.Expr | None) -> str: ...
    def expression(self, expr: tree.Expr) -> Sql: ...
    def round_column(
        self, value: str, den: str | None, scale: int, mode: str, layer: int, divisor: str | None = None
    ) -> tuple[str, str]: ...


Part = tuple[str, str, str]  # (line id, SQL: the line is on the document, SQL: its rounded amount)


class Discounts:
    """The discount lines of `doc`'s plan over the charges `parts` (in plan order, memo lines left out),
    computed in the layers from `layer` on."""

    def __init__(self, doc: Columns, parts: list[Part], layer: int) -> None:
        self.doc, self.parts, self.layer = doc, parts, layer

    def lines(self) -> tuple[list[str], list[Part], list[str], int]:
        """The discount lines' JSON pieces, the parts of the subtotal (charges, then discounts), the
        notices of discounts larger than their charges, and the first layer after them."""
        doc, plan = self.doc, self.doc.plan
        zero = doc.zero
        remaining = {cid: (present, amount) for cid, present, amount in self.parts}
        texts, parts, unused, layer = [], list(self.parts), [], self.layer
        for d in plan.discounts:
            targets = [line for cid in (d.applies_to or list(remaining)) for line in remaining if line == cid]
            if not targets:
                continue
            on = doc.column(layer, f"({doc.condition(d.when)}) AND ({' OR '.join(remaining[t][0] for t in targets)})")
            positive = {t: f"CASE WHEN {remaining[t][0]} THEN greatest({remaining[t][1]}, {zero}) ELSE {zero} END" for t in targets}
            base = doc.column(
                layer,
                "(" + " + ".join([zero, *(f"CASE WHEN {remaining[t][0]} THEN {remaining[t][1]} ELSE {zero} END" for t in targets)]) + ")",
            )
            if d.percent is not None:
                share = doc.expression(d.percent)
                places = doc.digits + share.scale
                wanted = f"({base} * {share.text})"
            else:
                assert d.amount is not None  # a discount has a percent or an amount
                value = doc.expression(d.amount)
                places = max(value.scale, doc.digits)
                wanted = value.at(places)
            added, _ = doc.round_column(doc.column(layer + 1, wanted), None, places, plan.rounding, layer + 2)
            amount = doc.column(layer + 4, f"greatest(least({added}, greatest({base}, {zero})), {zero})")
            for index, t in enumerate(targets):
                before = " + ".join([zero, *(positive[e] for e in targets[:index])])
                taken = f"least(greatest({amount} - ({before}), {zero}), {positive[t]})"
                present, left = remaining[t]
                remaining[t] = (present, doc.column(layer + 5, f"{left} - CASE WHEN {on} THEN {taken} ELSE {zero} END"))
            head = literal(f'{{"id":{json_text(d.id)},"description":{json_text(d.name)},"quantity":null,"amount":"')
            texts.append(f"""CASE WHEN {on} THEN {head} || CAST(-{amount} AS VARCHAR) || '"}}' END""")
            parts.append((d.id, on, f"(-{amount})"))
            unused.append(f"CASE WHEN {on} AND {added} > {amount} THEN {self._unused(d, added, amount, base)} END")
            layer += 6
        return texts, parts, unused, layer

    def _unused(self, d, added: str, amount: str, base: str) -> str:
        """The notice of a discount larger than its charges (`discounts.unused_notice`), its amounts in SQL."""
        currency = self.doc.plan.currency
        if any(mark in d.name + currency for mark in "\x00\x01\x02\x03"):
            raise NoSql(f"discount {d.id!r}: its name holds control characters")
        money = {
            "\x01": f"({added} - {amount})",
            "\x02": added,
            "\x03": f"greatest({base}, {self.doc.zero})",
        }
        message = (
            f"{d.name}: \x01 of the \x02 {currency} discount is more than the charges "
            f"it applies to (\x03 {currency}) and is not carried to a later period."
        )
        # the message is JSON-escaped whole around stand-ins for the amounts (digits need no escaping);
        # a name holding a stand-in character is escaped by JSON into `\u0001`, never split here
        text = f'{{"id":{json_text(d.id + ".unused")},"message":{json_text(message)}}}'
        for mark, value in money.items():
            escaped = json_text(mark)[1:-1]
            text = text.replace(escaped, "\x00" + value + "\x00", 1)
        pieces = text.split("\x00")
        return " || ".join(literal(piece) if i % 2 == 0 else f"CAST({piece} AS VARCHAR)" for i, piece in enumerate(pieces))
