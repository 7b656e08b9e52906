"""The benchmark's peak memory of a ratecard process is that process's own, not the benchmark's."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("ratecard_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_peak_of_a_command_leaves_out_the_memory_of_the_benchmark():
    # the benchmark holds gigabytes after its own DuckDB queries; 400 MB written here stands for them
    held = b"\x01" * (400 << 20)
    with open(os.devnull, "w") as sink:
        seconds, peak_kib = _bench()._timed(["--version"], sink)
    assert len(held) == 400 << 20
    assert seconds > 0
    assert 10 << 10 < peak_kib < 200 << 10  # `ratecard --version` takes some tens of MiB
