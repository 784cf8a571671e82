"""Long work tells the workspace's Progress what it does: gathering, importing, sending."""

from __future__ import annotations

import asyncio
from pathlib import Path

from digest.config import load_config
from digest.pipeline import run_digest
from digest.progress import Progress, Task
from digest.store import Store
from digest.subscribers import import_csv
from digest.workspace import Workspace


class _Recorded(Task):
    def __init__(self, total: int | None) -> None:
        self.total = total
        self.advanced = 0
        self.finished = False

    def advance(self, amount: int = 1) -> None:
        assert not self.finished
        self.advanced += amount

    def done(self) -> None:
        self.finished = True


class Recorder(Progress):
    def __init__(self) -> None:
        self.tasks: dict[str, _Recorded] = {}

    def task(self, label: str, total: int | None = None) -> Task:
        self.tasks[label] = _Recorded(total)
        return self.tasks[label]


def test_a_run_reports_sources_gathered_and_messages_sent(example_dir: Path, home: Path) -> None:
    recorder = Recorder()
    with Workspace.open(load_config(example_dir / "example.toml"), home) as ws:
        ws.progress = recorder
        report = asyncio.run(run_digest(ws, "example", max_wait=5))
    assert report.dispatch is not None and report.dispatch.counts["sent"] == 3
    gathering, sending = recorder.tasks["gathering sources"], recorder.tasks["sending messages"]
    assert (gathering.total, gathering.advanced, gathering.finished) == (2, 2, True)
    assert (sending.total, sending.advanced, sending.finished) == (3, 3, True)


def test_an_import_reports_its_rows(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email\n" + "".join(f"p{n}@example.org\n" for n in range(250)) + "bad\n")
    rows: list[int] = []
    list_id = sqlite_store.ensure_list("readers")
    report = import_csv(sqlite_store, list_id, path, on_rows=rows.append, batch_size=100)
    assert report.imported == 250 and report.skipped_count == 1
    assert sum(rows) == 251 and len(rows) == 3  # one call per batch written
