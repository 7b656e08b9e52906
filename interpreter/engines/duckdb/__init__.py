"""The DuckDB engine, the default: `engine` rates (the `Engine` and `rate()`), `ledger` reads the
ledger into DuckDB, `background` runs the duplicate check alongside the pricing.
"""
