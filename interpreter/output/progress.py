"""Progress of a long rating run on stderr: the stage, then customers rated.

Silent when stderr is not a terminal (a billing job's log stays clean) or
when asked to be quiet; `rich` draws it and removes it when done.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class TerminalProgress:
    """Stages and a customers-rated bar on stderr; silent when stderr is not a terminal."""

    def __init__(self, quiet: bool):
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        if quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(stage, total=None)
        self.bar.update(self.task, description=stage, completed=done, total=total or None)

    def close(self) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.stop()
