"""How a ledger is rated: what to rate is decided once, and an engine computes it.

`core` decides the periods, the plan version of each, which version judges
a rejected row, the periods before (for `previous.*`) and the customers
listed without usage; the DuckDB back end and the Spark one (`spark/`)
compute stage 1 and run stage 2.
"""
