"""CSV import: an operator's file into a list, streamed, never aborting on a bad row.

Rows come from `csv_reader`, and each address is checked by `normalize_email`. A bad row is
skipped with its line number and reason; re-importing the same file changes nothing; someone who
left the list is never put back unless the operator says so. Rows are applied in batches of bulk
statements, and duplicates are found through the database (see `digest.store.ImportSession`),
so memory stays flat whatever the file's size: the report keeps counts and the first
`MAX_DETAILED` skipped rows, and can stream every skipped row to a file (`skipped_log`).
"""

from __future__ import annotations

import heapq
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

from email_validator import EmailNotValidError

from digest.models import MembershipStatus
from digest.store import ImportRow, Store
from digest.subscribers.addresses import normalize_email
from digest.subscribers.csv_reader import read_rows

__all__ = [
    "MAX_DETAILED",
    "ImportReport",
    "Skipped",
    "import_csv",
    "skipped_log",
]

BATCH_SIZE = 5000  # rows a transaction; three batches at most are in memory
PROCESS_MIN_BYTES = 8 << 20  # from this size a file is read in a process (spawning costs ~0.3 s)
MAX_DETAILED = 1000  # skipped rows kept in the report; the rest are counted (and streamed)
# A plain str, not the enum member: a million rows are pickled and bound one by one.
_ACTIVE = MembershipStatus.ACTIVE.value


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str  # "invalid address: ...", "duplicate of line 3", "suppressed (...)" ...

    @property
    def kind(self) -> str:
        return self.reason.split(" ", 1)[0].rstrip(":")


@dataclass
class ImportReport:
    """What an import did. `skipped` holds the first MAX_DETAILED skipped rows; counts are exact."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    skipped_count: int = 0
    skipped_by_kind: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    @property
    def rows(self) -> int:
        return self.imported + self.updated + self.unchanged + self.skipped_count

    def skip(self, line: int, reason: str) -> Skipped:
        item = Skipped(line, reason)
        self.skipped_count += 1
        self.skipped_by_kind[item.kind] += 1
        if len(self.skipped) < MAX_DETAILED:
            self.skipped.append(item)
        return item

    def summary(self) -> str:
        """One line: the counts, the skipped rows by kind, and whether this was a dry run."""
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.skipped_by_kind.items()))
        return (
            f"{self.imported} imported, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped_count} skipped"
            + (f" ({kinds})" if kinds else "")
            + ("; dry run, nothing written" if self.dry_run else "")
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped_count,
            "skipped_by_kind": dict(self.skipped_by_kind),
            "dry_run": self.dry_run,
        }


@contextmanager
def skipped_log(path: Path | None) -> Iterator[Callable[[Skipped], None] | None]:
    """An `on_skip` for `import_csv` that writes every skipped row to `path` as it is found,
    one `line<TAB>reason` a line (for the full list of a huge file); None without a path."""
    if path is None:
        yield None
        return
    with open(path, "w", encoding="utf-8") as handle:

        def write(item: Skipped) -> None:
            handle.write(f"{item.line}\t{item.reason}\n")

        yield write


_COUNTED = frozenset(("imported", "updated", "unchanged"))


def _skip_reason(row: ImportRow, outcome: str, detail: str) -> str:
    """Why a row the store did not take was skipped, as the report says it."""
    if outcome == "duplicate":
        return detail
    if outcome == "suppressed":
        return f"suppressed: {row.email} {detail}"
    return f"left: {row.email} is {detail}"


def import_csv(
    store: Store,
    list_id: int,
    path: Path,
    *,
    dry_run: bool = False,
    resubscribe: bool = False,
    origin: str | None = None,
    on_skip: Callable[[Skipped], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    reader: Literal["thread", "process"] | None = None,
) -> ImportReport:
    """Import a CSV file into a list; never aborts on a bad row.

    A row whose status column says unsubscribed/bounced/complained is imported as such (that is
    how leavers are carried over from another tool; it never re-activates anyone). `on_skip` is
    called for every skipped row, in file order, for a full report of a huge file; `on_rows`
    with the number of rows of each batch written (for a progress bar). The file is
    parsed while the database writes: in a thread, or for a big file in a separate process
    (`reader` chooses; by default the file's size does), since parsing and validating holds the
    GIL for as long as the database takes.
    """
    report = ImportReport(dry_run=dry_run)
    origin = origin or f"import:{path.name}"

    def skip(line: int, reason: str) -> None:
        item = report.skip(line, reason)
        if on_skip is not None:
            on_skip(item)

    with store.import_session(
        list_id, origin=origin, resubscribe=resubscribe, dry_run=dry_run
    ) as session:

        def flush(batch: list[ImportRow], invalid: list[tuple[int, str]]) -> None:
            outcomes = session.apply(batch) if batch else []
            # counted in C; only the skipped rows are looked at one by one (a few, usually)
            counts = Counter(map(itemgetter(1), outcomes))
            report.imported += counts["imported"]
            report.updated += counts["updated"]
            report.unchanged += counts["unchanged"]
            skipped = [
                (row.line, _skip_reason(row, outcome, detail))
                for row, outcome, detail in outcomes
                if outcome not in _COUNTED
            ]
            # reported in file order: the batch's outcomes are, the invalid rows merge in
            for line, reason in heapq.merge(sorted(invalid), skipped):
                skip(line, reason)
            if on_rows is not None:
                on_rows(len(batch) + len(invalid))

        if reader is None:
            reader = "process" if _worth_a_process(path) else "thread"
        source = _from_process if reader == "process" else _prefetch
        for batch, invalid in source(path, batch_size):
            flush(batch, invalid)
    return report


def _worth_a_process(path: Path) -> bool:
    """A reading process pays off on a big file and a machine with a core to spare."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size >= PROCESS_MIN_BYTES and (os.cpu_count() or 1) > 1


Batch = tuple[list[ImportRow], list[tuple[int, str]]]


def _batches(path: Path, batch_size: int) -> Iterator[Batch]:
    """Rows read and normalized, in batches: (valid rows, (line, reason) of invalid ones)."""
    batch: list[ImportRow] = []
    invalid: list[tuple[int, str]] = []
    for raw in read_rows(path):
        if raw.problem is not None:
            invalid.append((raw.line, f"malformed: {raw.problem}"))
        elif not raw.email:
            invalid.append((raw.line, "invalid address: the row has no address"))
        else:
            try:
                email = normalize_email(raw.email)
            except EmailNotValidError as exc:
                invalid.append((raw.line, f"invalid address: {raw.email!r}: {exc}"))
            else:
                status = raw.status if raw.status in MembershipStatus.INACTIVE else _ACTIVE
                batch.append(ImportRow(raw.line, email, raw.name, raw.attributes, status))
        if len(batch) >= batch_size or len(invalid) >= batch_size:
            yield batch, invalid
            batch, invalid = [], []
    if batch or invalid:
        yield batch, invalid


_DONE = object()


def _prefetch(path: Path, batch_size: int, depth: int = 2) -> Iterator[Batch]:
    """Read the next batches in a thread while the database applies this one.

    The database drivers release the GIL while SQLite steps or PostgreSQL works, so parsing
    overlaps with writing. At most `depth` batches wait, so memory stays bounded; an error in
    the reader is raised here; leaving early stops the reader.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
            return
        put(_DONE)

    batches = _batches(path, batch_size)
    reader = threading.Thread(target=produce, name="digest-import-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _reader_main() -> None:
    """The reading process: batches as pickled plain tuples on stdout, then None (or an error).

    Run as `python -c` (see `_from_process`), so nothing of the importing program's main
    module is run again, as multiprocessing's spawn would.
    """
    path, batch_size = sys.argv[1], int(sys.argv[2])
    out = sys.stdout.buffer
    try:
        for batch, invalid in _batches(Path(path), batch_size):
            pickle.dump(([tuple(row) for row in batch], invalid), out, pickle.HIGHEST_PROTOCOL)
        pickle.dump(None, out)
    except Exception as exc:  # handed to the importing process, which raises it
        pickle.dump(RuntimeError(f"reading {path} failed: {exc!r}"), out)
    out.flush()


def _from_process(path: Path, batch_size: int) -> Iterator[Batch]:
    """Read and validate the file in another process (a second core; no GIL shared).

    The pipe holds little, so the reader is at most a batch or two ahead and memory stays
    bounded; leaving early stops it.
    """
    root = str(Path(__file__).resolve().parents[2])  # where the digest package lives
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from digest.subscribers.csv_import import _reader_main; _reader_main()",
            str(path),
            str(batch_size),
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    make = ImportRow._make
    try:
        while True:
            try:
                item = pickle.load(process.stdout)
            except EOFError:
                raise RuntimeError(f"the process reading {path} ended early") from None
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            rows, invalid = item
            yield [make(row) for row in rows], invalid
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.terminate()
        process.wait()
