"""Stage 2: a customer's period facts priced into a document, in exact Decimal.

Expressions are evaluated (`evaluate`, with the built-ins of `functions`),
quantities priced by the pricing models (`dsl.pricing_models`), and lines, discounts,
taxes and credits assembled into an invoice or statement (`documents`);
`stage2` builds one customer's documents in period order with balances
carried (`balances`). Customer attributes (`customers`) and named formulas
(`formulas`) are evaluated here too. No engine, no SQL.
"""
