"""Reviewing plan changes: revenue impact of a change (`diff`), plan scenarios
(`scenarios`, read through `scenario_schema`) and their snapshots (`snapshots`).
"""
