"""Reading, checking and compiling ratecard plan files.

The entry points live in `dsl.loader`: `load_plan` (one file) and `load_paths`
(files and folders). Each returns the compiled plans together with every
problem found; nothing in this package raises on bad input.
"""
