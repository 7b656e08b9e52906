"""How a ledger is rated: what to rate is decided once, and an engine computes it.

`core` decides the periods, the plan version of each, which version judges
a rejected row, the periods before (for `previous.*`) and the customers
listed without usage; every engine implements the one `interface.Engine`:
DuckDB (`duckdb/`, the default) and Spark (`spark/`) read the ledger,
compute stage 1 in SQL and run stage 2.
"""
