"""CSV import into a list, on SQLite and on the real PostgreSQL: every defect an operator's
file has gives a precise report, and the batched, set-based import keeps the row-by-row rules."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from digest.store import ImportSession, Store
from digest.subscribers import MAX_DETAILED, import_csv
from tests.subscribers.helpers import skip_reasons, write_file

MESSY = (
    "\ufeffEmail;Name;Plan\n"
    "ada@example.org;Ada;pro\n"
    "not-an-address;Nobody;free\n"
    "ADA@example.org;Ada Again;free\n"  # a duplicate once normalized
    "\n"
    "grace@example.org;Grace;free;extra\n"  # more fields than the header
    "bounced@example.org;Bounced;free\n"
    ";;\n"
    "  \n"
    "left@example.org;Left;free\n"
    ";No address;free\n"
    "zoe@example.org;Zoë;free\n"
)


def test_messy_file_gives_a_precise_report(store: Store, tmp_path: Path) -> None:
    list_id = store.ensure_list("readers")
    store.suppress("bounced@example.org", "hard bounce")
    store.upsert_subscriber(list_id, "left@example.org")
    left = store.subscriber_by_email("left@example.org")
    assert left is not None
    store.set_membership_status(list_id, left.id, "unsubscribed")
    path = write_file(tmp_path, MESSY)
    report = import_csv(store, list_id, path)
    assert (report.imported, report.updated, report.unchanged) == (2, 0, 0)
    reasons = skip_reasons(report)
    assert [line for line, _ in reasons] == [3, 4, 6, 7, 10, 11]
    assert reasons[0][1].startswith("invalid address: 'not-an-address'")
    assert reasons[1][1] == "duplicate of line 2"
    assert reasons[2][1] == "malformed: 4 fields where the header has 3"
    assert reasons[3][1].startswith("suppressed: bounced@example.org")
    assert reasons[4][1].startswith("left: left@example.org is unsubscribed")
    assert reasons[5][1] == "invalid address: the row has no address"
    assert dict(report.skipped_by_kind) == {
        "invalid": 2,
        "duplicate": 1,
        "malformed": 1,
        "suppressed": 1,
        "left": 1,
    }
    assert store.count_members(list_id) == {"active": 2, "unsubscribed": 1}
    ada = store.subscriber_by_email("ada@example.org")
    assert ada is not None and ada.attributes == {"plan": "pro"} and ada.name == "Ada"

    again = import_csv(store, list_id, path)  # re-importing changes nothing
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 2)
    assert skip_reasons(again) == reasons

    forced = import_csv(store, list_id, path, resubscribe=True)
    assert forced.updated == 1  # the leaver, because the operator said so
    assert store.count_members(list_id) == {"active": 3}
    assert store.is_suppressed("bounced@example.org")  # never undone by an import


def test_updates_and_dry_run(store: Store, tmp_path: Path) -> None:
    list_id = store.ensure_list("readers")
    import_csv(store, list_id, write_file(tmp_path, "email,name,city\na@example.org,A,Oslo\n"))
    changed = write_file(
        tmp_path, "email,name,city\na@example.org,A,Bergen\nb@example.org,B,\n", "changed.csv"
    )
    dry = import_csv(store, list_id, changed, dry_run=True)
    assert (dry.imported, dry.updated, dry.unchanged) == (1, 1, 0)
    assert store.subscriber_by_email("b@example.org") is None
    a = store.subscriber_by_email("a@example.org")
    assert a is not None and a.attributes == {"city": "Oslo"}
    real = import_csv(store, list_id, changed)
    assert (real.imported, real.updated, real.unchanged) == (1, 1, 0)
    a = store.subscriber_by_email("a@example.org")
    assert a is not None and a.attributes == {"city": "Bergen"}


def test_duplicates_across_batches_and_streamed_skips(store: Store, tmp_path: Path) -> None:
    list_id = store.ensure_list("readers")
    rows = [f"u{i}@example.org,U{i}" for i in range(50)]
    rows += [f"u{i}@example.org,again" for i in range(0, 50, 5)]  # later batches
    rows += ["broken"] * (MAX_DETAILED + 5)
    path = write_file(tmp_path, "email,name\n" + "\n".join(rows) + "\n")
    streamed: list[tuple[int, str]] = []
    report = import_csv(
        store, list_id, path, batch_size=7, on_skip=lambda s: streamed.append((s.line, s.reason))
    )
    assert report.imported == 50
    assert report.skipped_count == 10 + MAX_DETAILED + 5 == len(streamed)
    assert len(report.skipped) == MAX_DETAILED  # kept in memory; the rest counted/streamed
    assert streamed[0] == (52, "duplicate of line 2")
    assert streamed[9] == (61, "duplicate of line 47")
    assert [line for line, _ in streamed] == sorted(line for line, _ in streamed)
    assert store.subscriber_by_email("u0@example.org").name == "U0"  # type: ignore[union-attr]


def test_pipeline_call_signature_still_works(sqlite_store: Store, tmp_path: Path) -> None:
    """digest.pipeline.sync_lists calls import_csv(store, list_id, path)."""
    list_id = sqlite_store.ensure_list("readers", "Readers")
    root = Path(__file__).resolve().parents[2]
    report = import_csv(sqlite_store, list_id, root / "config" / "example" / "subscribers.csv")
    assert report.imported >= 3 and report.skipped_count == 0
    assert (
        import_csv(sqlite_store, list_id, root / "config" / "example" / "subscribers.csv").imported
        == 0
    )


def test_reader_thread_errors_and_early_exits(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    list_id = sqlite_store.ensure_list("readers")
    before = threading.active_count()
    with pytest.raises(FileNotFoundError):  # raised in the reader, re-raised here
        import_csv(sqlite_store, list_id, tmp_path / "missing.csv")
    path = write_file(tmp_path, "email\n" + "".join(f"u{i}@example.org\n" for i in range(100)))
    calls = []

    def failing_apply(self: ImportSession, batch: object) -> object:
        calls.append(batch)
        raise RuntimeError("database went away")

    monkeypatch.setattr(ImportSession, "apply", failing_apply)
    with pytest.raises(RuntimeError, match="went away"):
        import_csv(sqlite_store, list_id, path, batch_size=5)
    assert len(calls) == 1
    assert threading.active_count() == before  # the reader stopped with the import


def _generated_messy_file(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """A file mixing every outcome, with duplicates far apart; and each line's expected kind."""
    rng = random.Random(4711)
    lines = ["email;name;city;status"]
    expected: dict[int, str] = {}
    first_line: dict[str, int] = {}
    for line in range(2, 400):
        roll = rng.random()
        if roll < 0.05:
            lines.append(f"broken-{line};Bad;Oslo;")
            expected[line] = "invalid"
            continue
        number = rng.randrange(120)  # few distinct addresses: many duplicates, across batches
        email = f"Reader.{number}@Example.org" if number % 3 else f"reader.{number}@example.org"
        status = "unsubscribed" if number % 17 == 5 else ""
        lines.append(f"{email};Rëader {number};{rng.choice(['Köln', 'Oslo', ''])};{status}")
        key = email.lower()
        if key in first_line:
            expected[line] = f"duplicate of line {first_line[key]}"
        else:
            first_line[key] = line
            if number % 29 == 3:
                expected[line] = "suppressed"
            elif number % 23 == 7:
                expected[line] = "left"
            else:
                expected[line] = "imported"
    path = write_file(tmp_path, "\n".join(lines) + "\n")
    return path, expected


def _prepare(store: Store, list_id: int) -> None:
    """Suppressed addresses, leavers on the list, and subscribers already on another list."""
    other = store.ensure_list(f"other-{list_id}")
    for number in range(120):
        email = f"reader.{number}@example.org"
        if number % 29 == 3:
            store.suppress(email, "hard bounce")
        if number % 23 == 7:
            store.upsert_subscriber(list_id, email, name="Left")
            found = store.subscriber_by_email(email)
            assert found is not None
            store.set_membership_status(list_id, found.id, "unsubscribed")
        elif number % 4 == 0:
            store.upsert_subscriber(other, email, name="Elsewhere", attributes={"k": "v"})


@pytest.mark.parametrize("batch_size", [5, 10_000])
def test_batched_set_based_import_matches_the_row_by_row_rules(
    store: Store, tmp_path: Path, batch_size: int
) -> None:
    """Whatever the batch size (new subscribers written set-based, known ones row by row), each
    row gets the outcome the rules give it, in file order; a dry run reports the same."""
    path, expected = _generated_messy_file(tmp_path)
    list_id = store.ensure_list("readers")
    _prepare(store, list_id)
    dry = import_csv(store, list_id, path, dry_run=True, batch_size=batch_size)
    assert store.count_members(list_id) == {"unsubscribed": 5}  # nothing written
    report = import_csv(store, list_id, path, batch_size=batch_size)
    got: dict[int, str] = {}
    for item in report.skipped:
        kind = item.reason if item.kind == "duplicate" else item.kind
        got[item.line] = kind
    imported = [line for line, kind in expected.items() if kind == "imported"]
    assert got == {line: kind for line, kind in expected.items() if kind != "imported"}
    assert (report.imported, report.updated, report.unchanged) == (len(imported), 0, 0)
    assert (dry.imported, dry.updated, dry.unchanged) == (report.imported, 0, 0)
    assert skip_reasons(dry) == skip_reasons(report)
    counts = store.count_members(list_id)
    new_leavers = {number for number in range(120) if number % 17 == 5}
    assert counts.get("unsubscribed", 0) >= 5
    assert sum(counts.values()) == report.imported + 5
    for number in new_leavers - {n for n in range(120) if n % 29 == 3 or n % 23 == 7}:
        member = store.subscriber_by_email(f"reader.{number}@example.org")
        if member is not None:  # the file named them: imported as having left
            assert store.membership_status(list_id, member.id) == "unsubscribed"
    elsewhere = store.subscriber_by_email("reader.0@example.org")
    if elsewhere is not None and store.membership_status(list_id, elsewhere.id):
        assert elsewhere.attributes["k"] == "v"  # merged, not replaced
    again = import_csv(store, list_id, path, batch_size=batch_size)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, report.imported)
    assert skip_reasons(again) == skip_reasons(report)


@pytest.mark.slow
def test_reading_process_gives_what_the_reading_thread_gives(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Big files are read in a separate process: same rows, same report, errors raised here."""
    path, _ = _generated_messy_file(tmp_path)
    first = sqlite_store.ensure_list("first")
    second = sqlite_store.ensure_list("second")
    by_thread = import_csv(sqlite_store, first, path, batch_size=9, reader="thread")
    by_process = import_csv(sqlite_store, second, path, batch_size=9, reader="process")
    assert by_process.as_json() == by_thread.as_json()
    assert skip_reasons(by_process) == skip_reasons(by_thread)
    assert sqlite_store.count_members(second) == sqlite_store.count_members(first)
    with pytest.raises(RuntimeError, match="FileNotFoundError"):
        import_csv(sqlite_store, first, tmp_path / "missing.csv", reader="process")


def test_control_characters_skip_their_row_and_never_abort_the_import(
    store: Store, tmp_path: Path
) -> None:
    """A NUL once aborted the whole import on PostgreSQL (it refuses NUL in text)."""
    list_id = store.ensure_list("readers")
    path = write_file(
        tmp_path,
        b"email,name,city\n"
        b"ada@example.org,Ada,Paris\n"
        b"nul@example.org,N\x00ul,Rome\n"
        b"esc@example.org,Esc,\x1b]0;owned\x07\n"
        b"grace@example.org,Grace,Oslo\n",
    )
    report = import_csv(store, list_id, path, batch_size=2)
    assert (report.imported, report.skipped_count) == (2, 2)
    assert skip_reasons(report) == [
        (3, "malformed: control character U+0000 in column 'name'"),
        (4, "malformed: control character U+001B in column 'city'"),
    ]
    assert store.count_members(list_id) == {"active": 2}
    assert store.subscriber_by_email("nul@example.org") is None
