"""Starter plans and scenarios (`<example>.yaml`, `<example>.scenario.yaml`), and
`init_plan`, which writes them for `ratecard init`.
"""
