"""`digest lists` and `digest subscribers ...`, driven like an operator would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from digest.cli import app
from digest.store import open_store

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _run(example_dir: Path, home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, [*args, "--config", str(example_dir / "example.toml"), "--home", str(home)]
    )
    return result.exit_code, result.output


def test_import_reports_every_skipped_row(example_dir: Path, home: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "messy.csv"
    csv_file.write_bytes(
        b"email;name\nada@example.org;Ada\nbroken;X\nADA@example.org;Again\n"
        + b"m\xfcller@example.de;M\xfcller\n"
    )
    code, output = _run(
        example_dir, home, "subscribers", "import", "readers", str(csv_file), "--dry-run"
    )
    assert code == 0, output
    assert "2 imported, 0 updated, 0 unchanged, 2 skipped" in output
    assert "dry run, nothing written" in output
    code, output = _run(example_dir, home, "lists", "--json")
    assert json.loads(output)[0]["members"] == {}
    skipped = tmp_path / "skipped.tsv"
    code, output = _run(
        example_dir,
        home,
        "subscribers",
        "import",
        "readers",
        str(csv_file),
        "--skipped",
        str(skipped),
    )
    assert code == 0, output
    assert "line 3: invalid address: 'broken'" in output
    assert "line 4: duplicate of line 2" in output
    assert skipped.read_text(encoding="utf-8").splitlines()[1] == "4\tduplicate of line 2"
    code, output = _run(example_dir, home, "subscribers", "show", "müller@example.de", "--json")
    assert json.loads(output)["name"] == "Müller"
    code, output = _run(
        example_dir, home, "subscribers", "import", "readers", str(csv_file), "--json"
    )
    summary = json.loads(output)
    assert (summary["imported"], summary["unchanged"], summary["skipped"]) == (0, 2, 2)


def test_add_remove_show_export(example_dir: Path, home: Path) -> None:
    code, output = _run(
        example_dir,
        home,
        "subscribers",
        "add",
        "readers",
        "Zoe@Example.org",
        "--name",
        "Zoë",
        "--attr",
        "city=Oslo",
    )
    assert code == 0 and "zoe@example.org: imported, active on readers" in output
    code, output = _run(example_dir, home, "subscribers", "remove", "readers", "zoe@example.org")
    assert code == 0 and "unsubscribed" in output
    code, output = _run(example_dir, home, "subscribers", "show", "zoe@example.org", "--json")
    shown = json.loads(output)
    assert [(a["action"], a["reason"]) for a in shown["audit"]] == [
        ("unsubscribe", "removed by operator"),
        ("subscribe", ""),
    ]
    assert all(a["actor"].startswith("cli") for a in shown["audit"])
    code, output = _run(example_dir, home, "subscribers", "add", "readers", "zoe@example.org")
    assert code == 1 and "--resubscribe" in output  # never put back silently
    code, output = _run(example_dir, home, "subscribers", "show", "zoe@example.org")
    assert "readers: unsubscribed" in output and "removed by operator" in output
    assert "cli unsubscribe" in output
    code, output = _run(
        example_dir, home, "subscribers", "add", "readers", "zoe@example.org", "--resubscribe"
    )
    assert code == 0 and "active on readers" in output
    exported = home / "export.csv"
    code, output = _run(
        example_dir, home, "subscribers", "export", "readers", "--out", str(exported)
    )
    assert code == 0 and "1 members of readers exported" in output
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "email,name,status,joined,origin,city"
    assert lines[1].startswith("zoe@example.org,Zoë,active,") and lines[1].endswith(",cli,Oslo")
    code, output = _run(example_dir, home, "subscribers", "suppress", "zoe@example.org")
    code, output = _run(example_dir, home, "subscribers", "add", "readers", "zoe@example.org")
    assert code == 2 and "suppressed" in output


def test_usage_errors(example_dir: Path, home: Path) -> None:
    code, output = _run(example_dir, home, "subscribers", "add", "nope", "a@example.org")
    assert code == 2 and "no list named 'nope'" in output
    code, output = _run(example_dir, home, "subscribers", "add", "readers", "not-an-address")
    assert code == 2 and "not a valid address" in output
    code, output = _run(example_dir, home, "subscribers", "show", "unknown@example.org")
    assert code == 2
    code, output = _run(example_dir, home, "subscribers", "export", "readers", "--status", "x")
    assert code == 2


def test_show_says_until_when_a_subscriber_paused(example_dir: Path, home: Path) -> None:
    _run(example_dir, home, "subscribers", "add", "readers", "zoe@example.org")
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(weeks=2)
    store = open_store(None, home)
    try:
        row = store.subscriber_by_email("zoe@example.org")
        assert row is not None
        store.pause(row.id, until, source="web")
    finally:
        store.close()
    code, output = _run(example_dir, home, "subscribers", "show", "zoe@example.org")
    assert code == 0 and f"paused until {until.isoformat()}" in output
    assert "web pause" in output  # the event, as the subscriber's page recorded it
    code, output = _run(example_dir, home, "subscribers", "show", "zoe@example.org", "--json")
    assert json.loads(output)["lists"][0]["paused_until"] == until.isoformat()


def test_export_is_safe_for_a_spreadsheet_unless_raw(example_dir: Path, home: Path) -> None:
    args = ["subscribers", "add", "readers", "x@example.org", "--name", "=1+1"]
    code, output = _run(example_dir, home, *args, "--attr", "phone=+47 555")
    assert code == 0, output
    safe, raw = home / "safe.csv", home / "raw.csv"
    code, output = _run(example_dir, home, "subscribers", "export", "readers", "--out", str(safe))
    assert code == 0, output
    row = safe.read_text(encoding="utf-8").splitlines()[1]
    assert row.startswith("x@example.org,'=1+1,active,") and row.endswith(",cli,'+47 555")
    args = ["subscribers", "export", "readers", "--out", str(raw), "--raw"]
    code, output = _run(example_dir, home, *args)
    assert code == 0, output
    row = raw.read_text(encoding="utf-8").splitlines()[1]
    assert row.startswith("x@example.org,=1+1,active,") and row.endswith(",cli,+47 555")
    code, output = _run(example_dir, home, "subscribers", "import", "readers", str(safe), "--json")
    assert code == 0 and json.loads(output)["unchanged"] == 1  # the quotes come off again
