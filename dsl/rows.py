"""Row expressions (`where:`, `require:`) run inside the ledger engine, not in Python.

The engine computes exactly only what SQL decimals compute exactly, so a row
expression may not divide and may call only the functions with an exact SQL
form in the table of built-ins. This check runs at compile time, with positions.
"""

from __future__ import annotations

from dsl import tree
from dsl.builtins import BUILTINS
from dsl.errors import Diagnostic, error

ROW_FUNCTIONS = tuple(name for name, builtin in BUILTINS.items() if builtin.sql is not None)


def row_problems(expr: tree.Expr | None, what: str) -> list[Diagnostic]:
    """Why `expr` cannot run on ledger rows (empty when it can)."""
    problems = []
    for node in tree.walk(expr):
        if isinstance(node, tree.Binary) and node.op == "/":
            problems.append(
                error(node.span, f"{what} cannot divide: it runs on every ledger row, where only exact arithmetic is allowed", "row")
            )
        elif isinstance(node, tree.Call) and node.function not in ROW_FUNCTIONS:
            problems.append(error(node.span, f"{what} cannot call {node.function}(); on ledger rows use {', '.join(ROW_FUNCTIONS)}", "row"))
    return problems
