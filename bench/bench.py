"""Benchmark: `ratecard rate` against the floor of a plain DuckDB GROUP BY.

Generates a synthetic ledger (default 10,000,000 events, 50,000 customers,
5 metrics with `where` filters, a region dimension, quantities with 2
decimals) as Parquet and CSV, then times, alternating in one run:

  (a) `ratecard rate bench/bench_plan.yaml --usage FILE --period 2024-11 --format jsonl`
  (b) a plain DuckDB `GROUP BY customer, metric` with SUM/COUNT/MAX over the same file

and prints the medians, the ratio (a)/(b), peak memory of (a) and events per
second. Run:  python bench/bench.py [--events N] [--customers N] [--repeat 3]

With --breakdown it also rates each file once in this process and prints how
long each stage took (start-up excluded), as the progress display names them.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAN = HERE / "bench_plan.yaml"


def generate(folder: Path, events: int, customers: int) -> dict[str, Path]:
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    parquet, csv = folder / f"ledger_{events}.parquet", folder / f"ledger_{events}.csv"
    if parquet.exists() and csv.exists():
        return {"parquet": parquet, "csv": csv}
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
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
    con.execute(f"COPY ledger TO '{parquet}' (FORMAT parquet)")
    con.execute(
        f"COPY (SELECT event_id, customer, strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%f+00:00') AS timestamp, metric, region, quantity FROM ledger) TO '{csv}' (HEADER, DELIMITER ',')"
    )
    return {"parquet": parquet, "csv": csv}


def floor_query(path: Path) -> float:
    import duckdb

    scan = f"read_parquet('{path}')" if path.suffix == ".parquet" else f"read_csv('{path}', header = true)"
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SELECT customer, metric, sum(quantity), count(*), max(quantity) FROM {scan} GROUP BY customer, metric").fetchall()
    return time.perf_counter() - start


def rate_command(path: Path) -> tuple[float, int]:
    """Seconds and peak resident memory (KiB) of one `ratecard rate` process."""
    command = [
        sys.executable,
        "-c",
        "import cli; cli.main()",
        "rate",
        str(PLAN),
        "--usage",
        str(path),
        "--period",
        "2024-11",
        "--format",
        "jsonl",
        "--quiet",
    ]
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        process = subprocess.Popen(command, stdout=sink, cwd=HERE.parent)
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"ratecard rate failed with status {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss


def breakdown(path: Path) -> list[tuple[str, float]]:
    """Seconds spent in each stage of one rating of `path`, JSON lines made as `ratecard rate` makes them."""
    sys.path.insert(0, str(HERE.parent))
    from dsl.loader import load_plan
    from interpreter.engines.duckdb.engine import rate
    from interpreter.output import render

    marks: list[tuple[str, float]] = [("loading the plan", time.perf_counter())]
    plan = load_plan(PLAN).plan

    def progress(stage: str, _done: int, _total: int) -> None:
        if marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    def lines(documents):
        marks.append(("writing JSON lines (beside the check)", time.perf_counter()))
        return render.document_lines(documents)

    collecting = gc.isenabled()
    gc.disable()  # as the command does
    try:
        result = rate(plan, str(path), period="2024-11", progress=progress, prepare=lines)
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
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--breakdown", action="store_true", help="also time each stage of one rating per file")
    args = parser.parse_args()
    started = time.perf_counter()
    files = generate(args.data, args.events, args.customers)
    print(f"ledger: {args.events:,} events, {args.customers:,} customers (made in {time.perf_counter() - started:.1f} s)")
    for fmt in args.formats.split(","):
        path = files[fmt]
        engine, floor, memory = [], [], []
        for _ in range(args.repeat):  # alternate, so both see the same machine
            floor.append(floor_query(path))
            seconds, peak = rate_command(path)
            engine.append(seconds)
            memory.append(peak)
        a, b = statistics.median(engine), statistics.median(floor)
        print(
            f"{fmt:8s} ratecard rate {a:7.2f} s | DuckDB GROUP BY {b:6.2f} s | ratio {a / b:5.2f} | "
            f"peak memory {max(memory) / 1024:6.0f} MiB | {args.events / a:12,.0f} events/s"
        )
        if args.breakdown:
            for stage, seconds in breakdown(path):
                print(f"    {stage:40s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
