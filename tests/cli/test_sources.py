"""`digest sources`: the health table, its JSON form and its exit code."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from digest.cli import app
from digest.store import SourceResult, open_store


def test_sources_table_names_failing_sources_and_why(example_dir: Path, home: Path) -> None:
    config = str(example_dir / "example.toml")
    runner = CliRunner(env={"COLUMNS": "160"})
    fresh = runner.invoke(app, ["sources", "--config", config, "--home", str(home)])
    assert fresh.exit_code == 0, fresh.output
    assert "harbour-gazette" in fresh.output and "not run yet" in fresh.output

    store = open_store(None, home)
    store.record_source_results(
        [
            SourceResult("harbour-gazette", "HTTP 503 Service Unavailable (after 3 tries)"),
            SourceResult("newsroom", None, items=3, new_items=3),
        ]
    )
    store.close()
    table = runner.invoke(app, ["sources", "--config", config, "--home", str(home)])
    assert table.exit_code == 1
    line = next(x for x in table.output.splitlines() if x.startswith("harbour-gazette"))
    assert "failing" in line and "HTTP 503" in table.output
    assert "1 of 2 sources failing" in table.output
    newsroom = next(x for x in table.output.splitlines() if x.startswith("newsroom"))
    assert " ok " in newsroom and "ago" in newsroom

    as_json = runner.invoke(app, ["sources", "--json", "--config", config, "--home", str(home)])
    rows = {row["source"]: row for row in json.loads(as_json.stdout)}
    assert rows["harbour-gazette"]["consecutive_failures"] == 1
    assert rows["newsroom"]["items_seen"] == 3 and rows["newsroom"]["last_error"] is None


def test_sources_export_opml_lists_feeds_and_opml_lists(tmp_path: Path) -> None:
    (tmp_path / "reader.opml").write_text(
        '<opml version="2.0"><body><outline text="Folder"><outline type="rss" text="Quay"'
        ' xmlUrl="https://quay.example.org/rss"/></outline></body></opml>'
    )
    (tmp_path / "notes").mkdir()
    config = tmp_path / "digest.toml"
    config.write_text(
        '[sources.gazette]\nkind = "feed"\nurl = "https://gazette.example.org/feed.xml"\n'
        'title = "Harbour Gazette"\n'
        '[sources.reader]\nkind = "opml"\npath = "reader.opml"\n'
        '[sources.notes]\nkind = "folder"\npath = "notes"\n'
    )
    runner = CliRunner()
    shown = runner.invoke(app, ["sources", "export", "--opml", "--config", str(config)])
    assert shown.exit_code == 0, shown.output
    assert (
        'text="Harbour Gazette"' in shown.stdout
        and 'xmlUrl="https://quay.example.org/rss"' in shown.stdout
    )
    written = runner.invoke(
        app, ["sources", "export", "--opml", "-o", str(tmp_path / "out.opml"), "-c", str(config)]
    )
    assert written.exit_code == 0 and "wrote 2 feeds" in written.output
    assert (tmp_path / "out.opml").read_text() == shown.stdout
    refused = runner.invoke(app, ["sources", "export", "--config", str(config)])
    assert refused.exit_code == 2 and "--opml" in refused.output
