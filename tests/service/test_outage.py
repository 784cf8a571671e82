"""A firing is never lost to a database outage: the service, with its real scheduler and time
travel, against a real PostgreSQL made unreachable (a TCP proxy stopped) and reachable again.

While the store is down the firing tries its claim again with backoff, and once it is back the
period is built and sent; when the grace window ends first, the period is recorded as missed
with the reason, which `digest status` shows. Either way the log has one line per attempt and
no traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from typer.testing import CliRunner

from digest.cli import app as cli_app
from digest.config import load_config
from digest.errors import StoreUnavailableError
from digest.service import Service, ServiceOptions
from digest.workspace import Workspace
from tests.service.helpers import TcpProxy, add_subscribers, write_article, write_config

# Monday 30 November 2026, 08:00 in Berlin: a weekly digest's firing
FIRING = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
OPTIONS = ServiceOptions(poll_interval=0.2, watch_interval=0.1, web=False, catch_up=False)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET_KEY", "test-secret-key-for-signing-links-0123456789")


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    target = urlsplit(postgres_url.replace("+psycopg", ""))
    running = TcpProxy((target.hostname or "127.0.0.1", target.port or 5432))
    yield running
    running.stop()


def _setup(tmp_path: Path, proxy: TcpProxy, postgres_url: str, grace: str) -> tuple[Path, Path]:
    outbox = tmp_path / "outbox"
    config = write_config(
        tmp_path / "config",
        store_url=proxy.url(postgres_url),
        extra_digest=f'grace = "{grace}"',
        outbox=outbox,
    )
    write_article(tmp_path / "config" / "articles", "bridge", "Bridge reopens", FIRING)
    return config, outbox


async def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _running(service: Service, body: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), 10)
        await body()
    finally:
        service.request_stop()
        await asyncio.wait_for(task, 30)


def _lines(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    noisy = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert noisy == [], "an outage logged a traceback"


@pytest.mark.slow
async def test_a_firing_during_an_outage_is_claimed_and_sent_once_the_store_is_back(
    tmp_path: Path, proxy: TcpProxy, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config, outbox = _setup(tmp_path, proxy, postgres_url, grace="1h")
    caplog.set_level(logging.INFO, logger="digest")
    with time_machine.travel(FIRING - timedelta(seconds=1.5), tick=True):
        ws = Workspace.open(load_config(config), tmp_path / "var")
        try:
            add_subscribers(ws.store, 3)
            proxy.stop()
            service = Service(ws, options=OPTIONS)

            async def body() -> None:
                await _until(lambda: _lines(caplog, "not claimed") >= 2)
                with pytest.raises(StoreUnavailableError):
                    ws.store.issues_of("brief")  # the facade's error, not the driver's
                proxy.start()
                await _until(lambda: len(list(outbox.glob("*.eml"))) == 3)

            await _running(service, body)
            [issue] = ws.store.issues_of("brief")
            assert (issue.period, issue.status) == ("2026-W49", "complete")
            assert ws.store.delivery_counts(issue.id) == {"sent": 3}
        finally:
            ws.close()
    assert _lines(caplog, "not claimed") <= 4, "more than one line per backoff step"
    assert _lines(caplog, "claimed, the store is reachable again") == 1
    assert _lines(caplog, "sender: the store is unreachable") >= 1
    _no_traceback(caplog)


@pytest.mark.slow
async def test_a_firing_whose_grace_ends_during_the_outage_is_recorded_missed_with_the_reason(
    tmp_path: Path, proxy: TcpProxy, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config, outbox = _setup(tmp_path, proxy, postgres_url, grace="10m")
    caplog.set_level(logging.INFO, logger="digest")
    with time_machine.travel(FIRING - timedelta(seconds=1.5), tick=True) as traveller:
        ws = Workspace.open(load_config(config), tmp_path / "var")
        try:
            add_subscribers(ws.store, 3)
            proxy.stop()
            service = Service(ws, options=OPTIONS)

            async def body() -> None:
                await _until(lambda: _lines(caplog, "not claimed") >= 2)
                traveller.shift(timedelta(minutes=11))  # the grace window ends, still down
                await _until(lambda: _lines(caplog, "not recorded as missed yet") >= 1)
                proxy.start()
                await _until(lambda: bool(ws.store.issues_of("brief", statuses=("missed",))))

            await _running(service, body)
            [issue] = ws.store.issues_of("brief")
            args = ["status", "--config", str(config), "--home", str(tmp_path / "var")]
            shown = CliRunner().invoke(cli_app, args, terminal_width=200)
        finally:
            ws.close()
    assert (issue.period, issue.status) == ("2026-W49", "missed")
    reason = issue.report["reason"]
    assert "the store was unreachable from 2026-11-30 07:00:00 UTC" in reason
    assert "until the grace window ended at 2026-11-30 07:10:00 UTC" in reason
    assert "Connection refused)" in reason  # the driver's own words, in one line
    assert not outbox.exists() or not list(outbox.glob("*.eml"))
    assert shown.exit_code == 0, shown.output
    assert "2026-W49" in shown.output and "missed" in shown.output
    assert "the store was unreachable" in shown.output
    assert _lines(caplog, "period 2026-W49 missed") == 1
    _no_traceback(caplog)
