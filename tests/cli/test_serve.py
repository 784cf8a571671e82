"""`digest web`: the web app alone, as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from digest.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _run(example_dir: Path, home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, [*args, "--config", str(example_dir / "example.toml"), "--home", str(home)]
    )
    return result.exit_code, result.output


@pytest.mark.slow
def test_digest_web_serves_the_app(example_dir: Path, home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DIGEST_SECRET_KEY": "k" * 40}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from digest.cli import main; main()",
            "web",
            "--config",
            str(example_dir / "example.toml"),
            "--home",
            str(home),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        process.stdout.read().decode()  # type: ignore[union-attr]
                    ) from None
                time.sleep(0.1)
        assert response.text == "ok"
        form = httpx.get(f"http://127.0.0.1:{port}/subscribe/readers")
        assert form.status_code == 200 and "Subscribe to The Example Brief" in form.text
        bad = httpx.post(
            f"http://127.0.0.1:{port}/unsubscribe/forged.token",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert bad.status_code == 400
    finally:
        process.terminate()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_digest_web_access_log_hides_the_tokens_in_paths(example_dir: Path, home: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DIGEST_SECRET_KEY": "k" * 40}
    process = subprocess.Popen(
        [
            sys.executable, "-c", "from digest.cli import main; main()", "web",
            "--config", str(example_dir / "example.toml"), "--home", str(home),
            "--port", str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    tokens = ["SECRETunsub.abc-123", "SECRETconfirm.def_456", "SECRETissue.ghi"]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        httpx.get(f"{base}/unsubscribe/{tokens[0]}")
        httpx.post(f"{base}/unsubscribe/{tokens[0]}?x=1", content=b"List-Unsubscribe=One-Click")
        httpx.get(f"{base}/confirm/{tokens[1]}")
        httpx.get(f"{base}/issues/{tokens[2]}")
    finally:
        process.terminate()
        process.wait(10)
        assert process.stdout is not None
        log = process.stdout.read().decode()
        process.stdout.close()
    assert not any(token in log for token in tokens), log
    assert '"GET /unsubscribe/[token] HTTP/1.1" 400' in log, log
    assert '"POST /unsubscribe/[token]?x=1 HTTP/1.1" 400' in log
    assert '"GET /confirm/[token] HTTP/1.1"' in log and '"GET /issues/[token] HTTP/1.1"' in log
