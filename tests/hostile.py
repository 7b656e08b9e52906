"""Hostile values the ledger and plan tests share: timestamps that are not times, strings made to break SQL,
and a plan and ledger that carry such strings through every plan field and ledger column that reaches SQL."""

from __future__ import annotations

import csv
import json

import yaml

NOT_ISO = "is not an ISO 8601 date-time"
OUT_OF_RANGE = "is outside the years 1 to 9999"

# (timestamp as written, what its rejected row's reason says after the quoted timestamp)
TIMESTAMPS = [
    ("infinity", NOT_ISO),
    ("-infinity", NOT_ISO),
    ("epoch", NOT_ISO),
    ("2024/11/03", NOT_ISO),
    ("2024-11-03 10:00:00 Asia/Tokyo", NOT_ISO),
    ("2024-11-03T10:00:00+25:00", NOT_ISO),
    ("2024-11-03T10:00:00+18:30", NOT_ISO),
    ("2024-11-03T10:00:00+09:75", NOT_ISO),
    ("2024-11-03T10:00:00+09:00:00", NOT_ISO),
    ("10000-01-01", OUT_OF_RANGE),
    ("0000-01-01", OUT_OF_RANGE),
    ("-0001-01-01", OUT_OF_RANGE),
    ("0000-12-31T23:00:00-05:00", OUT_OF_RANGE),
    ("9999-12-31T23:00:00-05:00", OUT_OF_RANGE),  # 10000-01-01 in Seoul
    ("0001-01-01T00:00:00+14:00", OUT_OF_RANGE),  # the year 0 in Seoul
]

# Strings that would change a query if pasted into SQL text rather than bound or quoted.
STRINGS = [
    "McDonald's",
    "'",
    "''",
    "\\",
    "\\'",
    "a\\'b",
    "x' OR '1'='1",
    "--",
    "a -- b",
    "; DROP TABLE events; --",
    "/* c */",
    '"quoted"',
    "$$dollar$$",
    "%_",
    "NUL\x00byte",
    "tab\tand\nnewline",
    "카페 ☕ ü\u00a0",
    "read_csv('/etc/passwd')",
    "x' || (SELECT string_agg(column0, '') FROM read_csv('/etc/passwd', header = false)) || '",
    "') UNION SELECT 1 --",
    "{0} {name}",
]


def dsl_string(text: str) -> str:
    """`text` as a string literal of the expression language."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def yaml_string(text: str) -> str:
    """`text` as a double-quoted YAML scalar (JSON's escapes would split characters beyond U+FFFF)."""
    return yaml.safe_dump(text, default_style='"', width=10**9, allow_unicode=True).strip()


def hostile_plan(strings: list[str]) -> str:
    """A plan in which each string is a text value, a default, a string literal in `where:` and `require:`,
    and a rule's message."""
    values = "[" + ", ".join(yaml_string(v) for v in [*strings, "plain"]) + "]"
    lines = [
        "plan: hostile",
        "currency: USD",
        "usage:",
        f"  kind: {{type: text, values: {values}}}",
        f"  note: {{type: text, default: {yaml_string(strings[0])}}}",
        "  amount: money",
        "require:",
    ]
    lines += [f"  - {{rule: {yaml_string(f'kind != {dsl_string(s)} or amount >= 0')}, message: {yaml_string(s)}}}" for s in strings]
    lines.append("metrics:")
    lines += [
        f"  hits{i}: {{count: true, where: {yaml_string(f'kind == {dsl_string(s)} and note == {dsl_string(strings[0])}')}}}"
        for i, s in enumerate(strings)
    ]
    listed = f"kind in [{', '.join(dsl_string(s) for s in strings)}]"
    lines += [
        f"  listed: {{count: true, where: {yaml_string(listed)}}}",
        "  total: {sum: amount}",
        "charges:",
        "  fee: {model: per_unit, on: total, unit_price: 1}",
    ]
    return "\n".join(lines) + "\n"


def hostile_rows(strings: list[str]) -> list[dict]:
    """Per string: a row counted, a row with a value not listed and a row failing its rule; its own customer id."""
    rows = []
    for i, s in enumerate(strings):
        customer = f"c{s}c"  # a customer id is trimmed; the string itself is not
        rows += [
            {"event_id": f"a{s}{i}", "customer": customer, "timestamp": "2024-11-03", "kind": s, "amount": "5"},
            {"event_id": f"b{s}{i}", "customer": customer, "timestamp": "2024-11-04", "kind": s + "!", "amount": "1"},
            {"event_id": f"c{s}{i}", "customer": customer, "timestamp": "2024-11-05", "kind": s, "amount": "-1"},
        ]
    return rows


def expected_rejections(strings: list[str]) -> list[tuple[int, str, str]]:
    values = ", ".join([*strings, "plain"])
    out = []
    for i, s in enumerate(strings):
        out += [(3 * i + 2, f"b{s}{i}", f"kind: '{s}!' is not one of {values}"), (3 * i + 3, f"c{s}{i}", s)]
    return out


def write_ledger(folder, rows: list[dict], form: str) -> str:
    if form == "jsonl":
        path = folder / "ledger.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        return str(path)
    path = folder / "ledger.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)
