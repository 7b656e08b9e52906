"""Hostile values the ledger and plan tests share: timestamps that are not times, strings made to break SQL."""

from __future__ import annotations

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
    ("9999-12-31T23:00:00-05:00", OUT_OF_RANGE),   # 10000-01-01 in Seoul
    ("0001-01-01T00:00:00+14:00", OUT_OF_RANGE),   # the year 0 in Seoul
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
    "\"quoted\"",
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
