"""A DuckDB query run on a second cursor while the calling thread goes on.

DuckDB releases the GIL while it executes, so Python work (pricing documents)
and a query (the duplicate check) share the machine's cores.
"""

from __future__ import annotations

import threading
from typing import Any


class Alongside:
    """Run `sql` now; `result()` waits for its first value. Leaving the `with` block early interrupts it."""

    def __init__(self, con, sql: str) -> None:
        self._cursor = con.cursor()
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(sql,), name="ratecard-alongside", daemon=True)
        self._thread.start()

    def _run(self, sql: str) -> None:
        try:
            self._value = self._cursor.execute(sql).fetchone()[0]
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def __enter__(self) -> Alongside:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._thread.is_alive():
            self._cursor.interrupt()
            self._thread.join()
        self._cursor.close()
