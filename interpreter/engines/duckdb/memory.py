"""How much memory DuckDB may use, and where it spills what does not fit.

A ledger larger than memory is read, checked and aggregated by DuckDB
spilling to disk past its memory limit, rather than failing. The limit is
half the machine's memory by default (Python holds the documents beside
DuckDB), or `RATECARD_MEMORY_LIMIT` (`2GB`, `40%`). Spilled data goes into
a folder of this process under the system's temporary folder, or under
`RATECARD_TEMP_DIRECTORY`, never into the working directory (DuckDB's own
default); the folder is removed when the process ends.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from typing import Any

MEMORY_LIMIT = "RATECARD_MEMORY_LIMIT"
TEMP_DIRECTORY = "RATECARD_TEMP_DIRECTORY"
DEFAULT_LIMIT = "50%"

_folder: dict[str, str] = {}  # the spill folder of this process, by the folder it is in
_numbers = itertools.count()


class MemoryProblem(Exception):
    """The memory settings cannot be used; the message names the setting."""


def config() -> dict[str, Any]:
    """DuckDB's `memory_limit` and `temp_directory` for a new connection (a folder of its own, which
    DuckDB makes when it first spills)."""
    return {
        "memory_limit": os.environ.get(MEMORY_LIMIT) or DEFAULT_LIMIT,
        "temp_directory": os.path.join(_process_folder(), str(next(_numbers))),
    }


def problem(exc: Exception) -> MemoryProblem:
    """The message for DuckDB refusing the settings of `config`."""
    limit = os.environ.get(MEMORY_LIMIT)
    if limit and "memory" in str(exc).lower():
        return MemoryProblem(f"{MEMORY_LIMIT}={limit!r} is no memory size; write it as 2GB, 512MB or 40%")
    return MemoryProblem(f"DuckDB refused its memory settings: {str(exc).strip().splitlines()[0]}")


def _process_folder() -> str:
    base = os.environ.get(TEMP_DIRECTORY) or tempfile.gettempdir()
    if base not in _folder:
        try:
            _folder[base] = tempfile.mkdtemp(prefix="ratecard-spill-", dir=base)
        except OSError as exc:
            raise MemoryProblem(f"{TEMP_DIRECTORY}={base!r}: cannot make a folder there to spill to: {exc.strerror or exc}") from None
        atexit.register(shutil.rmtree, _folder[base], True)
    return _folder[base]
