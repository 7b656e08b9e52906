"""Row expressions (`where:`, `require:`) run inside the ledger engine, not in Python.

The engine computes exactly only what SQL decimals compute exactly, so a row
expression may not divide and may call only the functions the engine has an
exact translation for. This check runs at compile time, with positions.
"""

from __future__ import annotations

from dsl import tree
from dsl.errors import Diagnostic, error

ROW_FUNCTIONS = ("min", "max", "abs", "days_between", "days_in_month", "month_start", "month_end")


def row_problems(expr: tree.Expr | None, what: str) -> list[Diagnostic]:
    """Why `expr` cannot run on ledger rows (empty when it can)."""
    if expr is None:
        return []
    problems = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, tree.Binary):
            if node.op == "/":
                problems.append(error(node.span, f"{what} cannot divide: it runs on every ledger row, where only exact arithmetic is allowed", "row"))
            stack += [node.left, node.right]
        elif isinstance(node, tree.Unary):
            stack.append(node.operand)
        elif isinstance(node, tree.Cond):
            stack += [node.test, node.then, node.otherwise]
        elif isinstance(node, tree.In):
            stack += [node.operand, *node.options]
        elif isinstance(node, tree.Call):
            if node.function not in ROW_FUNCTIONS:
                problems.append(error(node.span, f"{what} cannot call {node.function}(); on ledger rows use {', '.join(ROW_FUNCTIONS)}", "row"))
            stack += list(node.args)
    return problems
