"""Benchmark: `ratecard rate` and `ratecard run` against hand-written DuckDB SQL and a bare GROUP BY.

Generates a synthetic ledger (default 1,000,000 events, 50,000 customers,
5 metrics with `where` filters, a region dimension, quantities with 2
decimals) as Parquet, CSV and JSON lines, a customers file giving half the
customers each of two plans, then times, alternating in one run:

  group by  a bare DuckDB `GROUP BY customer, metric` with SUM/COUNT/MAX
  SQL       the DuckDB SQL a data engineer would write by hand for the invoices of
            bench/bench_plan.yaml: exact DECIMAL arithmetic, the same dedupe (first
            row of an event id), period filter, half-up rounding of each line and tax
  rate      `ratecard rate bench/bench_plan.yaml --usage FILE --period 2024-11 --format jsonl`
  run       `ratecard run` over bench_plan.yaml and bench_plan_b.yaml (half the customers each)

then `ratecard rate` of bench/bench_quota.yaml over a CSV ledger whose quota refuses one record in four.

and prints the medians, `rate` against the hand-written SQL and the GROUP BY,
`run` against `rate`, and peak resident memory of the ratecard processes
(each process's own, named when past MEMORY_TARGET_MIB).

The hand-written SQL is checked to give the same total as ratecard's invoice
for every customer on every file; a mismatch stops the benchmark.

Run:  python bench/bench.py [--events N] [--customers N] [--repeat 3] [--formats parquet,csv,jsonl]
      python bench/bench.py --events 10000000          # the 10M-event ledger
With --breakdown it also rates each file once in this process and prints how
long each stage took (start-up excluded), as the progress display names them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAN = HERE / "bench_plan.yaml"
PLANS = (PLAN, HERE / "bench_plan_b.yaml")
QUOTA_PLAN = HERE / "bench_quota.yaml"
COMMANDS = ("group by", "SQL", "rate", "run")
MEMORY_TARGET_MIB = 1024  # what rating 10 million events should take at most


def generate(folder: Path, events: int, customers: int) -> dict[str, Path]:
    """The ledger in each format, the customers file and the plans folder of `run` (made once, then reused)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"ledger_{events}"
    files = {"parquet": stem.with_suffix(".parquet"), "csv": stem.with_suffix(".csv"), "jsonl": stem.with_suffix(".jsonl")}
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if not all(path.exists() for path in files.values()):
        con.execute(f"""
            CREATE TABLE ledger AS
            SELECT 'e' || i AS event_id,
                   'c' || lpad(CAST(hash(i * 7) % {customers} AS VARCHAR), 6, '0') AS customer,
                   TIMESTAMPTZ '2024-11-01 00:00:00+00' + to_microseconds(CAST(hash(i * 13) % 2592000000000 AS BIGINT)) AS timestamp,
                   ['api_calls', 'storage_gb', 'messages', 'payments', 'seats'][1 + CAST(hash(i * 17) % 5 AS INTEGER)] AS metric,
                   ['us', 'eu', 'ap'][1 + CAST(hash(i * 19) % 3 AS INTEGER)] AS region,
                   CAST(CAST(hash(i * 23) % 100000 AS DECIMAL(18, 0)) / 100 AS DECIMAL(18, 2)) AS quantity
            FROM range({events}) AS t(i)
        """)
        # seats are signed changes: keep them small integers, half of them removals
        con.execute("UPDATE ledger SET quantity = CASE WHEN hash(event_id) % 2 = 0 THEN 1 ELSE -1 END WHERE metric = 'seats'")
        text = "SELECT event_id, customer, strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%f+00:00') AS timestamp, metric, region, quantity FROM ledger"
        con.execute(f"COPY ledger TO '{files['parquet']}' (FORMAT parquet)")
        con.execute(f"COPY ({text}) TO '{files['csv']}' (HEADER, DELIMITER ',')")
        con.execute(f"COPY ({text}) TO '{files['jsonl']}' (FORMAT json)")  # quantity as a JSON number, 2 decimals
    files["customers"] = folder / f"customers_{customers}.csv"
    if not files["customers"].exists():
        con.execute(f"""
            COPY (SELECT 'c' || lpad(CAST(i AS VARCHAR), 6, '0') AS customer, CASE WHEN i % 2 = 0 THEN 'bench' ELSE 'bench_b' END AS plan
                  FROM range({customers}) AS t(i)) TO '{files["customers"]}' (HEADER, DELIMITER ',')
        """)
    files["plans"] = folder / "plans"
    files["plans"].mkdir(exist_ok=True)
    for plan in PLANS:
        shutil.copyfile(plan, files["plans"] / plan.name)
    return files


def quota_ledger(folder: Path, records: int) -> Path:
    """A CSV ledger of `records` records, four per customer after a quota of three: one in four is refused."""
    import duckdb

    path = folder / f"quota_{records}.csv"
    if not path.exists():
        duckdb.connect().execute(f"""
            COPY (SELECT 'e' || i AS event_id, 'c' || (i // 5) AS customer,
                         strftime(TIMESTAMP '2024-11-01 00:00:00' + INTERVAL (i % 5) DAY, '%Y-%m-%dT%H:%M:%S') AS timestamp,
                         CASE WHEN i % 5 = 0 THEN '' ELSE '1' END AS record, CASE WHEN i % 5 = 0 THEN '3' ELSE '' END AS quota
                  FROM range({records // 4 * 5}) AS t(i)) TO '{path}' (HEADER, DELIMITER ',')
        """)
    return path


def _scan(path: Path) -> str:
    """The file as a data engineer would read it: typed columns, decimals read as text (JSON would give floats)."""
    if path.suffix == ".parquet":
        return f"(SELECT *, file_row_number AS row FROM read_parquet('{path}', file_row_number = true))"
    columns = "{'event_id': 'VARCHAR', 'customer': 'VARCHAR', 'timestamp': 'VARCHAR', 'metric': 'VARCHAR', 'region': 'VARCHAR', 'quantity': 'VARCHAR'}"
    if path.suffix == ".csv":
        read = f"read_csv('{path}', header = true, auto_detect = false, columns = {columns})"
    else:
        read = f"read_json('{path}', format = 'newline_delimited', columns = {columns})"
    return f"""(SELECT event_id, customer, CAST(timestamp AS TIMESTAMPTZ) AS timestamp, metric, region,
                       CAST(quantity AS DECIMAL(18, 2)) AS quantity, row_number() OVER () AS row FROM {read})"""


# The invoices of bench_plan.yaml. Every amount stays DECIMAL: `/` would give a DOUBLE, so the
# time-weighted seats (12 x seat-days / 30 days) are priced as seat-days x 0.4, and packages are
# counted in whole cents. ROUND on DECIMAL rounds half away from zero, which is half-up for the
# amounts here: each line is clamped at zero before it is rounded.
HAND_WRITTEN = """
WITH firsts AS (
    SELECT * FROM {scan} QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY row) = 1
), usage AS (
    SELECT customer,
           coalesce(sum(quantity) FILTER (WHERE metric = 'api_calls'), 0) AS api,
           coalesce(max(quantity) FILTER (WHERE metric = 'storage_gb'), 0) AS storage,
           coalesce(sum(quantity) FILTER (WHERE metric = 'messages' AND region <> 'ap'), 0) AS messages,
           coalesce(sum(least(greatest(quantity * 0.029 + 0.30, 0.50), 25.00)) FILTER (WHERE metric = 'payments'), 0) AS payments,
           coalesce(sum(quantity * (DATE '2024-11-30' - CAST(timestamp AS DATE) + 1)) FILTER (WHERE metric = 'seats'), 0) AS seat_days
    FROM firsts
    WHERE timestamp >= TIMESTAMPTZ '2024-11-01 00:00:00+00' AND timestamp < TIMESTAMPTZ '2024-12-01 00:00:00+00'
    GROUP BY customer
), lines AS (
    SELECT customer,
           round(greatest(least(api, 100000) - 1000, 0) * 0.002 + greatest(api - 100000, 0) * 0.001, 2)
         + round(CASE WHEN storage <= 100 THEN greatest(storage, 0) * 0.25 ELSE storage * 0.20 END, 2)
         + round(((CAST(greatest(messages, 0) * 100 AS HUGEINT) + 99999) // 100000) * 9.90, 2)
         + round(payments, 2)
         + round(greatest(seat_days, 0) * 0.4, 2) AS subtotal
    FROM usage
)
SELECT customer, subtotal + round(subtotal * 0.0825, 2) AS total FROM lines
"""


def _connect():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def group_by(path: Path) -> float:
    scan = f"read_parquet('{path}')" if path.suffix == ".parquet" else f"read_csv('{path}', header = true)"
    if path.suffix == ".jsonl":
        scan = f"read_json('{path}', format = 'newline_delimited')"
    start = time.perf_counter()
    _connect().execute(f"SELECT customer, metric, sum(quantity), count(*), max(quantity) FROM {scan} GROUP BY customer, metric").fetchall()
    return time.perf_counter() - start


def hand_written(path: Path) -> tuple[float, dict[str, Decimal]]:
    start = time.perf_counter()
    rows = _connect().execute(HAND_WRITTEN.format(scan=_scan(path))).fetchall()
    return time.perf_counter() - start, dict(rows)


# Linux hands a process's peak resident memory on to the program it starts (exec keeps the peak of the
# memory it replaces), so a ratecard started from this process would count the gigabytes DuckDB left in
# it after the SQL above as its own. A small Python process in between starts ratecard instead, times it
# and writes its seconds, exit status and peak (KiB) to the file descriptor it is given.
_LAUNCH = """
import os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
elapsed = time.perf_counter() - start
os.write(int(sys.argv[1]), f"{elapsed} {os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}".encode())
"""


def _timed(command: list[str], out, tree: Path = HERE.parent) -> tuple[float, int]:
    """Seconds and peak resident memory (KiB) of one ratecard process, run from the source tree `tree`."""
    read, write = os.pipe()
    with os.fdopen(read) as report:
        try:
            launch = [sys.executable, "-c", _LAUNCH, str(write), sys.executable, "-c", "import cli; cli.main()", *command]
            subprocess.run(launch, stdout=out, cwd=tree, pass_fds=(write,), check=True)
        finally:
            os.close(write)
        elapsed, code, peak = report.read().split()
    if int(code) not in (0, 3):
        raise SystemExit(f"ratecard {command[0]} failed with status {code}")
    return float(elapsed), int(peak)


def rate_command(path: Path, out: Path, tree: Path = HERE.parent) -> tuple[float, int]:
    with out.open("w") as sink:
        return _timed(["rate", str(PLAN), "--usage", str(path), "--period", "2024-11", "--format", "jsonl", "--quiet"], sink, tree)


def run_command(path: Path, files: dict[str, Path], out: Path, tree: Path = HERE.parent) -> tuple[float, int]:
    command = ["run", "--plans", str(files["plans"]), "--customers", str(files["customers"]), "--usage", str(path)]
    with open(os.devnull, "w") as sink:
        return _timed([*command, "--period", "2024-11", "--out", str(out), "--force"], sink, tree)


def quota_command(path: Path, tree: Path = HERE.parent) -> tuple[float, int]:
    with open(os.devnull, "w") as sink:
        return _timed(["rate", str(QUOTA_PLAN), "--usage", str(path), "--period", "2024-11", "--format", "jsonl", "--quiet"], sink, tree)


def check_totals(documents: Path, expected: dict[str, Decimal], what: str) -> None:
    """Stop unless ratecard's invoice total equals the hand-written SQL's for every customer."""
    totals = {}
    with documents.open() as lines:
        for line in lines:
            document = json.loads(line)
            if document.get("kind") == "invoice":
                totals[document["customer"]] = Decimal(document["total"])
    if totals.keys() != expected.keys():
        raise SystemExit(f"{what}: ratecard invoiced {len(totals)} customers, the hand-written SQL {len(expected)}")
    wrong = [customer for customer, total in totals.items() if total != expected[customer]]
    if wrong:
        first = wrong[0]
        raise SystemExit(f"{what}: {len(wrong)} totals differ, e.g. {first}: ratecard {totals[first]}, SQL {expected[first]}")


def breakdown(path: Path) -> list[tuple[str, float]]:
    """Seconds spent in each stage of one rating of `path`, JSON lines made as `ratecard rate --format jsonl` makes them
    (priced in SQL: "aggregating usage" is the one query that aggregates and prices)."""
    sys.path.insert(0, str(HERE.parent))
    from dsl.loader import load_plan
    from interpreter.engines.duckdb.engine import rate
    from interpreter.output import render

    marks: list[tuple[str, float]] = [("loading the plan", time.perf_counter())]
    plan = load_plan(PLAN).plan

    def progress(stage: str, _done: int, _total: int) -> None:
        if marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    collecting = gc.isenabled()
    gc.disable()  # as the command does
    try:
        result = rate(plan, str(path), period="2024-11", progress=progress, lines=True)
        marks.append(("printing", time.perf_counter()))
        with open(os.devnull, "w") as sink:
            sink.write("\n".join(result.prepared + render.rejected_lines(result.rejected)))
        marks.append(("", time.perf_counter()))
    finally:
        if collecting:
            gc.enable()
    return [(stage, marks[i + 1][1] - at) for i, (stage, at) in enumerate(marks[:-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--formats", default="parquet,csv,jsonl")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="of: " + ", ".join(COMMANDS))
    parser.add_argument("--quota-records", type=int, default=200_000, help="also rate a quota ledger of this many records (0: not)")
    parser.add_argument(
        "--against", type=Path, help="another source tree of ratecard (an earlier version, say): its rate and run alternate too"
    )
    parser.add_argument("--breakdown", action="store_true", help="also time each stage of one rating per file")
    args = parser.parse_args()
    commands = [name for name in args.commands.split(",") if name]
    if args.against:
        commands += [f"{name}@{args.against.name}" for name in ("rate", "run") if name in commands]
    started = time.perf_counter()
    files = generate(args.data, args.events, args.customers)
    print(f"ledger: {args.events:,} events, {args.customers:,} customers (made in {time.perf_counter() - started:.1f} s)")
    with tempfile.TemporaryDirectory(prefix="ratecard-bench-") as tmp:
        documents, out = Path(tmp) / "documents.jsonl", Path(tmp) / "run"
        for fmt in filter(None, args.formats.split(",")):
            path = files[fmt]
            seconds: dict[str, list[float]] = {name: [] for name in commands}
            memory: dict[str, list[int]] = {name: [] for name in commands if name.startswith(("rate", "run"))}
            for repeat in range(args.repeat):  # alternate, so that every command sees the same machine
                if "group by" in commands:
                    seconds["group by"].append(group_by(path))
                if "SQL" in commands:
                    elapsed, expected = hand_written(path)
                    seconds["SQL"].append(elapsed)
                if "rate" in commands:
                    elapsed, peak = rate_command(path, documents)
                    seconds["rate"].append(elapsed)
                    memory["rate"].append(peak)
                    if repeat == 0 and "SQL" in commands:
                        check_totals(documents, expected, fmt)
                if "run" in commands:
                    elapsed, peak = run_command(path, files, out)
                    seconds["run"].append(elapsed)
                    memory["run"].append(peak)
                for name in commands:
                    if "@" in name:
                        tree = args.against
                        elapsed, peak = (
                            rate_command(path, documents, tree) if name.startswith("rate") else run_command(path, files, out, tree)
                        )
                        if name.startswith("rate") and repeat == 0 and "SQL" in commands:
                            check_totals(documents, expected, f"{fmt} ({name})")
                        seconds[name].append(elapsed)
                        memory[name].append(peak)
            median = {name: statistics.median(times) for name, times in seconds.items()}
            shown = " | ".join(f"{name} {median[name]:6.2f} s" for name in commands)
            ratios = []
            if "rate" in median:
                ratios += [f"rate/{name} {median['rate'] / median[name]:4.2f}" for name in ("SQL", "group by") if name in median]
                if "run" in median:
                    ratios.append(f"run/rate {median['run'] / median['rate']:4.2f}")
                ratios += [f"{name}/rate {median[name] / median['rate']:4.2f}" for name in median if "@" in name]
            peaks = " ".join(f"{name} {max(kib) / 1024:4.0f} MiB" for name, kib in memory.items() if kib)
            over = [name for name, kib in memory.items() if kib and max(kib) / 1024 > MEMORY_TARGET_MIB]
            if over:
                peaks += f" ({', '.join(over)} past {MEMORY_TARGET_MIB} MiB)"
            print(f"{fmt:8s} {shown} | {' | '.join(ratios)} | peak {peaks}" + (" | totals checked" if "SQL" in commands else ""))
            if args.breakdown:
                for stage, spent in breakdown(path):
                    print(f"    {stage:40s} {spent:6.2f} s")
    if args.quota_records:
        path = quota_ledger(args.data, args.quota_records)
        trees = [HERE.parent, *([args.against] if args.against else [])]
        runs = [[quota_command(path, tree) for tree in trees] for _ in range(args.repeat)]
        for index, tree in enumerate(trees):
            seconds, peak = statistics.median(r[index][0] for r in runs), max(r[index][1] for r in runs)
            name = "rate" if index == 0 else f"rate@{tree.name}"
            print(
                f"quota    {name} {seconds:6.2f} s over {args.quota_records:,} records, one in four refused | peak {peak / 1024:4.0f} MiB"
            )


if __name__ == "__main__":
    main()
