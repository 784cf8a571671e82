"""Progress of long work (gathering sources, importing rows, sending messages), for whoever
watches: the CLI shows rich progress bars on a terminal; everyone else gets `SILENT`.

    task = progress.task("sending messages", total=1500)
    task.advance(100)
    task.done()
"""

from __future__ import annotations

__all__ = ["SILENT", "Progress", "Task"]


class Task:
    """One piece of long work; this base class shows nothing."""

    def advance(self, amount: int = 1) -> None:
        """`amount` more units done."""

    def done(self) -> None:
        """The work is over (whether every unit was done or not)."""


class Progress:
    """Makes tasks; this base class makes silent ones (services, tests, pipes)."""

    def task(self, label: str, total: int | None = None) -> Task:
        return Task()


SILENT = Progress()
