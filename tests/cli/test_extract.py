"""`digest extract`: the probe command, driven through Typer's CliRunner, with URL targets
served by a real local HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from digest.cli import app as digest_app
from digest.cli.extract import FIELDS
from tests.cli.process import run_digest
from tests.sources.hostile import HostileServer, big_brotli_bomb, dripping

DATA = Path(__file__).resolve().parent.parent / "data" / "extract"
NOISY = DATA / "noisy_article.html"
LEAD_START = "The harbor bridge reopened to traffic on Tuesday morning"


@pytest.fixture
def app() -> typer.Typer:
    return digest_app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def site() -> Iterator[str]:
    """A local site: an article, a redirect to it, a 404, a PDF and a redirect loop."""
    page = NOISY.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/article":
                self._send(200, page, "text/html; charset=utf-8")
            elif self.path == "/old":
                self.send_response(301)
                self.send_header("Location", "/article")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/file.pdf":
                self._send(200, b"%PDF-1.7\n" + bytes(300), "application/pdf")
            else:
                self._send(404, b"not here", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_one_file_prints_a_labelled_block(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", str(NOISY)])
    assert result.exit_code == 0, result.output
    for label in FIELDS:
        assert label in result.output
    assert "Harbor bridge reopens after two years of repairs" in result.output
    assert "Dana Whitfield" in result.output


def test_json_gives_every_field(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", "--json", str(NOISY)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert list(record) == list(FIELDS)
    assert record["target"] == str(NOISY)
    assert record["title"] == "Harbor bridge reopens after two years of repairs"
    assert record["lead"].startswith(LEAD_START)
    assert record["summary"].startswith(LEAD_START)
    assert len(record["summary"].split()) <= 60
    assert record["published"] == "2024-03-05T14:30:00+00:00"
    assert record["url"] == "https://ledger.example/news/harbor-bridge-reopens"
    assert record["language"] == "en"
    assert record["words"] > 50


def test_words_option_sets_the_summary_budget(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", "--json", "--words", "12", str(NOISY)])
    summary = json.loads(result.output)["summary"]
    assert len(summary.split()) <= 12 and summary.endswith("…")


def test_many_targets_stream_jsonl_and_go_past_bad_ones(
    app: typer.Typer, runner: CliRunner, tmp_path: Path
) -> None:
    binary = tmp_path / "image.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(500))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    gz = tmp_path / "page.html.gz"
    gz.write_bytes(gzip.compress(NOISY.read_bytes()))
    targets = [
        str(NOISY),
        str(tmp_path / "missing.html"),
        str(binary),
        str(empty),
        str(gz),
        str(tmp_path),
    ]
    result = runner.invoke(app, ["extract", *targets])
    assert result.exit_code == 1
    records = _lines(result.output)
    assert [r["target"] for r in records] == targets
    ok = [r for r in records if "error" not in r]
    assert [r["target"] for r in ok] == [str(NOISY), str(gz)]
    errors = {r["target"]: r["error"] for r in records if "error" in r}
    assert "no such file" in errors[str(tmp_path / "missing.html")]
    assert "binary" in errors[str(binary)]
    assert "empty" in errors[str(empty)]
    assert set(errors[str(binary)]) and list(records[2]) == ["target", "error"]


def test_json_with_many_targets_is_an_array(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", "--json", str(NOISY), str(DATA / "post.md")])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [r["title"] for r in records] == [
        "Harbor bridge reopens after two years of repairs",
        "Why we moved our servers to the basement",
    ]


def test_jsonl_with_one_target(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", "--jsonl", str(DATA / "saved_page.txt")])
    assert result.exit_code == 0
    (record,) = _lines(result.output)
    assert record["title"] == "Town votes to keep its last bookshop open"


def test_standard_input(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["extract", "--json", "-"], input=NOISY.read_bytes())
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["lead"].startswith(LEAD_START)


def test_url_targets_follow_redirects_and_report_failures(
    app: typer.Typer, runner: CliRunner, site: str
) -> None:
    targets = [f"{site}/old", f"{site}/gone", f"{site}/file.pdf", f"{site}/loop"]
    result = runner.invoke(app, ["extract", "--jsonl", *targets])
    assert result.exit_code == 1
    records = _lines(result.output)
    assert records[0]["lead"].startswith(LEAD_START)
    assert "HTTP 404" in records[1]["error"]
    assert "unsupported content type application/pdf" in records[2]["error"]
    assert "redirects" in records[3]["error"]


def test_unsupported_file_type(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["extract", "--json", str(path)])
    assert result.exit_code == 1
    assert "unsupported file type .csv" in json.loads(result.output)["error"]


def test_error_in_readable_mode(app: typer.Typer, runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["extract", str(tmp_path / "nope.md")])
    assert result.exit_code == 1
    assert "no such file" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["extract"],
        ["extract", "--json", "--jsonl", "x.html"],
        ["extract", "-", "-"],
        ["extract", "--words", "0", "x.html"],
    ],
)
def test_usage_errors_exit_2(app: typer.Typer, runner: CliRunner, args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


def test_private_hosts_only_as_named_on_the_command_line(
    app: typer.Typer, runner: CliRunner, hostile: HostileServer
) -> None:
    """A URL given on the command line is the operator's: its host may be private. A redirect
    from it to another private host is not, and is refused with the reason."""
    internal = HostileServer("127.0.0.2").start()
    try:
        internal.static("/page", NOISY.read_bytes(), "text/html")
        bounce = hostile.route(
            "/go", lambda h: h.send(302, b"", "text/plain", {"Location": internal.url("/page")})
        )
        refused = runner.invoke(app, ["extract", "--json", bounce])
        assert internal.hits == {}
        named = runner.invoke(app, ["extract", "--json", internal.url("/page")])
    finally:
        internal.stop()
    assert refused.exit_code == 1
    assert json.loads(refused.output)["error"] == (
        f"{bounce}: redirect to {internal.url('/page')} refused: 127.0.0.2 is a loopback "
        "address (name it in fetch.allow_private to allow it)"
    )
    assert named.exit_code == 0, named.output
    assert json.loads(named.output)["lead"].startswith(LEAD_START)


@pytest.mark.slow
def test_the_command_stops_at_its_deadline(
    app: typer.Typer, runner: CliRunner, hostile: HostileServer
) -> None:
    slow = hostile.route("/drip", dripping(10))
    started = time.monotonic()
    result = runner.invoke(app, ["extract", "--jsonl", "--deadline", "1", slow, str(NOISY)])
    assert time.monotonic() - started < 4
    assert result.exit_code == 1
    first, second = _lines(result.output)
    assert first == {"target": slow, "error": "stopped at the 1 s deadline"}
    assert second == {"target": str(NOISY), "error": "not started: the 1 s deadline passed"}


@pytest.mark.slow
def test_a_compression_bomb_fails_its_target_and_memory_stays_low(
    hostile: HostileServer,
) -> None:
    bomb = hostile.static(
        "/bomb.html", big_brotli_bomb(), "text/html", headers={"Content-Encoding": "br"}
    )
    done = run_digest("extract", "--jsonl", bomb, str(NOISY))
    assert done.returncode == 1, done.stderr
    first, second = _lines(done.stdout)
    assert first == {
        "target": bomb,
        "error": f"{bomb}: decompressed response larger than 9.54 MB, cut off",  # 10,000,000 B
    }
    assert second["lead"].startswith(LEAD_START)
    assert done.peak_mb < 300, f"peak {done.peak_mb:.0f} MB"
