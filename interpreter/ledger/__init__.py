"""Stage 1's inputs and SQL: ledger files read, rows typed and checked, aggregates per customer and period.

Everything here is engine-independent: SQL text in DuckDB's dialect (Spark
translates it) or plain Python over a ledger's lines. The shape of a file
(`files`), JSON lines read exactly (`jsonl`), timestamps as instants
(`instants`), quoting and row expressions (`sql`), typed rows with their
reasons (`rows`), the duplicate rule (`duplicates`), the quota rule
(`quota`), and the aggregate query with the `Facts` it yields
(`aggregate`). The engines under `interpreter/engines/` run it.
"""
