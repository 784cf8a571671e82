"""`digest preview`: the next issue as files, nothing sent or marked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digest.cli import app
from tests.cli.process import run_digest
from tests.sources.hostile import HostileServer, big_brotli_bomb, stacked_gzip_bomb
from tests.summarize.fake_chat import FakeChat, Reply, answer, article_of, first_sentence

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cfg(example_dir: Path) -> str:
    return str(example_dir / "example.toml")


def test_preview_writes_the_issue_and_marks_nothing_sent(
    cfg: str, home: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "preview"
    code, _out, err = invoke(
        "preview", "example", "--config", cfg, "--home", str(home), "--out", str(out_dir)
    )
    assert code == 0, err
    assert {p.name for p in out_dir.iterdir()} == {
        "issue.html",
        "issue.txt",
        "issue.eml",
        "issue.json",
    }
    summary = json.loads((out_dir / "issue.json").read_text())
    assert summary["digest"] == "example"
    titles = [a["title"] for a in summary["articles"]]
    assert "Night ferry returns after two-year pause" in titles
    assert "Central library to open until midnight during exam season" in titles
    assert all(
        set(a) >= {"title", "url", "source", "published", "summary"} for a in summary["articles"]
    )
    assert not (home / "outbox").exists()
    # nothing was marked as sent: a run afterwards still sends the full issue
    code, _, err = invoke("run", "example", "--config", cfg, "--home", str(home))
    assert code == 0, err
    assert len(list((home / "outbox").glob("*.eml"))) == 3


@pytest.mark.slow
def test_after_a_run_the_preview_shows_the_last_issue_again_and_says_so(
    cfg: str, home: Path, tmp_path: Path
) -> None:
    common = ("--config", cfg, "--home", str(home))
    assert invoke("run", "example", *common)[0] == 0
    out_dir = tmp_path / "preview"
    code, out, err = invoke("preview", "example", *common, "--out", str(out_dir))
    assert code == 0, err
    assert "nothing new to send; wrote the most recent issue again (issue 1, complete" in out
    summary = json.loads((out_dir / "issue.json").read_text())
    assert "Night ferry returns after two-year pause" in [a["title"] for a in summary["articles"]]
    assert "Night ferry returns" in (out_dir / "issue.html").read_text()

    only_next = tmp_path / "next-only"
    code, out, err = invoke("preview", "example", *common, "--out", str(only_next), "--next-only")
    assert code == 0, err
    assert "nothing new to send; preview not written" in out
    assert not any(only_next.iterdir())


@pytest.mark.slow
def test_compression_bombs_fail_their_source_and_memory_stays_low(
    cfg: str, home: Path, tmp_path: Path
) -> None:
    """A ~1 KB brotli bomb and a `gzip, gzip` one (a gigabyte of zeros each) fail their
    sources at the size cap; the real `digest preview` process stays under 300 MB."""
    server = HostileServer().start()
    try:
        for path, body, encoding in (
            ("/br.xml", big_brotli_bomb(), "br"),
            ("/gz2.xml", stacked_gzip_bomb(), "gzip, gzip"),
        ):
            assert len(body) < 4096
            server.static(path, body, "application/rss+xml", headers={"Content-Encoding": encoding})
        config = Path(cfg)
        text = config.read_text().replace(
            'sources = ["harbour-gazette", "newsroom"]',
            'sources = ["harbour-gazette", "newsroom", "bomb-br", "bomb-gz2"]',
        )
        for name, path in (("bomb-br", "/br.xml"), ("bomb-gz2", "/gz2.xml")):
            text += f'\n[sources.{name}]\nkind = "feed"\nurl = "{server.url(path)}"\n'
        config.write_text(text)
        done = run_digest(
            "preview", "example", "--config", cfg, "--home", str(home),
            "--out", str(tmp_path / "preview"),
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert done.peak_mb < 300, f"peak {done.peak_mb:.0f} MB"
    for name in ("bomb-br", "bomb-gz2"):
        assert re.search(
            rf"source failed: {name}: \S+ decompressed response larger than 10 MB", done.stderr
        ), done.stderr
    assert "Night ferry returns" in (tmp_path / "preview" / "issue.txt").read_text()


@pytest.mark.slow
def test_preview_and_run_show_what_the_model_summarized(
    cfg: str, home: Path, tmp_path: Path
) -> None:
    fake = FakeChat().start()
    try:

        def respond(body: dict[str, Any]) -> Reply:
            if "Night ferry" in article_of(body):
                return answer("Captain Ahab says the ferry returns in 2031.")
            return first_sentence(body)

        fake.respond = respond
        text = (
            Path(cfg)
            .read_text()
            .replace("summary_words = 60", 'summary_words = 60\nsummarizer = "llm"')
        )
        Path(cfg).write_text(
            text + f'\n[summarizer]\nbase_url = "{fake.base_url}"\nmodel = "tiny-model"\n'
        )
        code, _out, err = invoke(
            "preview", "example", "--config", cfg, "--home", str(home), "--out", str(tmp_path)
        )
        assert code == 0, err
        lines = " ".join(err.split())
        assert (
            "summaries: 5 by the model (0 kept from an earlier build), 1 leads instead "
            "(1 unfaithful)" in lines
        )
        assert (
            "lead used: Night ferry returns after two-year pause: unfaithful (names what the "
            "article does not: 2031, Ahab)" in lines
        )
        asked = fake.calls
        code, _out, err = invoke("run", "example", "--config", cfg, "--home", str(home))
        assert code == 0, err
        assert "summaries: 5 by the model (5 kept from an earlier build)" in " ".join(err.split())
        assert fake.calls == asked
    finally:
        fake.stop()
