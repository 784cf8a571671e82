"""`digest web`: the web app alone, as a real process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from digest.cli import app
from tests.cli.process import digest_web

KEY = {"DIGEST_SECRET_KEY": "k" * 40}
runner = CliRunner()


def _run(example_dir: Path, home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, [*args, "--config", str(example_dir / "example.toml"), "--home", str(home)]
    )
    return result.exit_code, result.output


@pytest.mark.slow
def test_digest_web_serves_the_app(example_dir: Path, home: Path, tmp_path: Path) -> None:
    config = ("--config", str(example_dir / "example.toml"), "--home", str(home))
    with digest_web(*config, "--host", "127.0.0.1", log=tmp_path / "web.log", env=KEY) as base:
        response = httpx.get(f"{base}/healthz", timeout=1)
        assert response.text == "ok"
        form = httpx.get(f"{base}/subscribe/readers")
        assert form.status_code == 200 and "Subscribe to The Example Brief" in form.text
        bad = httpx.post(
            f"{base}/unsubscribe/forged.token",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert bad.status_code == 400


@pytest.mark.slow
def test_digest_web_access_log_hides_the_tokens_in_paths(
    example_dir: Path, home: Path, tmp_path: Path
) -> None:
    config = ("--config", str(example_dir / "example.toml"), "--home", str(home))
    tokens = ["SECRETunsub.abc-123", "SECRETconfirm.def_456", "SECRETissue.ghi"]
    with digest_web(*config, log=tmp_path / "web.log", env=KEY) as base:
        httpx.get(f"{base}/unsubscribe/{tokens[0]}")
        httpx.post(f"{base}/unsubscribe/{tokens[0]}?x=1", content=b"List-Unsubscribe=One-Click")
        httpx.get(f"{base}/confirm/{tokens[1]}")
        httpx.get(f"{base}/issues/{tokens[2]}")
    log = (tmp_path / "web.log").read_text()
    assert not any(token in log for token in tokens), log
    assert '"GET /unsubscribe/[token] HTTP/1.1" 400' in log, log
    assert '"POST /unsubscribe/[token]?x=1 HTTP/1.1" 400' in log
    assert '"GET /confirm/[token] HTTP/1.1"' in log and '"GET /issues/[token] HTTP/1.1"' in log
