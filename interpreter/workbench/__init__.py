"""The workbench: a local web app where product managers see a plan, its price curves and its invoices.

`app.create_app` builds the ASGI application (Starlette, Jinja2 templates,
vendored htmx, CodeMirror and Vega); `workspace` resolves plan names inside
the served folder; `panels` computes what the plan page shows; `review`
compares scenarios with their snapshots.
"""
