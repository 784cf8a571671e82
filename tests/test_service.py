"""The service in-process: firings through the real scheduler (with time travel across DST and
month ends), exactly once with two services on one store, catch-up, reload, policies, status."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from typer.testing import CliRunner

from digest.cli import app as cli_app
from digest.config import ProviderConfig, load_config
from digest.dates import utcnow
from digest.models import OutgoingMessage, SendResult
from digest.pipeline import run_period, settle_drafts
from digest.send import Transport, make_transport
from digest.send.outbox import OutboxTransport
from digest.service import Service, ServiceOptions
from digest.store import tables
from digest.web import create_app
from digest.workspace import Workspace
from tests.conftest import ENGINES
from tests.service.helpers import add_subscribers, write_article, write_config

QUICK = ServiceOptions(poll_interval=0.2, watch_interval=0.1, web=False, catch_up=False)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET_KEY", "test-secret-key-for-signing-links-0123456789")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def workspaces(tmp_path: Path, recorder: Recorder) -> Iterator[Callable[..., Workspace]]:
    opened: list[Workspace] = []

    def make(config: Path, owner: str = "test") -> Workspace:
        ws = Workspace.open(load_config(config), tmp_path / "var", transports=recorder.transports)
        ws.owner = owner
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


class Recorder:
    """Wraps the outbox and counts every send attempt per delivery, across services.

    Every workspace of the `workspaces` fixture sends through `transports`; once `arm`ed, that
    is the recording outbox (50 messages a batch, an optional delay per batch)."""

    def __init__(self) -> None:
        self.attempts: Counter[int] = Counter()
        self.recipients: Counter[str] = Counter()
        self.armed = False
        self.delay = 0.0

    def arm(self, delay: float = 0.0) -> None:
        self.armed, self.delay = True, delay

    def transports(self, name: str, provider: ProviderConfig, home: Path) -> Transport:
        if not self.armed:
            return make_transport(name, provider, home)
        recorder = self

        class Recording(OutboxTransport):
            max_batch = 50

            async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
                for message in messages:
                    recorder.attempts[message.delivery_id] += 1
                    recorder.recipients[message.to_email] += 1
                if recorder.delay:
                    await asyncio.sleep(recorder.delay)
                return await super().send_batch(messages)

        return Recording(home / "outbox")


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def running(service: Service, body: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), 10)
        await body()
    finally:
        service.request_stop()
        await asyncio.wait_for(task, 20)


# -- the real scheduler, with time travel -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("schedule", "zone", "travel_to", "period"),
    [
        # 01:59:58 CET; the clocks jump to 03:00 CEST: the next hourly firing is 03:00 CEST
        ("0 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 59, 58), "2026-03-29T03:00+02:00"),
        # 01:59:58 EDT; the clocks go back: the next hourly firing is the second 01:00 (EST)
        ("0 * * * *", "America/New_York", utc(2026, 11, 1, 5, 59, 58), "2026-11-01T01:00-05:00"),
        # midnight on 1 February in Berlin is still 31 January in UTC
        ("0 0 1 * *", "Europe/Berlin", utc(2026, 1, 31, 22, 59, 58), "2026-02"),
        # end of a leap February, daily digest in New York
        ("30 19 * * *", "America/New_York", utc(2028, 3, 1, 0, 29, 58), "2028-02-29"),
    ],
)
async def test_a_firing_builds_and_sends_its_period(
    tmp_path: Path,
    workspaces: Callable[..., Workspace],
    recorder: Recorder,
    schedule: str,
    zone: str,
    travel_to: datetime,
    period: str,
) -> None:
    config = write_config(tmp_path / "config", schedule=schedule, timezone=zone)
    write_article(tmp_path / "config" / "articles", "bridge", "Bridge reopens", travel_to)
    recorder.arm()
    with time_machine.travel(travel_to, tick=True):
        ws = workspaces(config)
        add_subscribers(ws.store, 4)
        service = Service(ws, options=QUICK)

        async def body() -> None:
            await until(lambda: bool(ws.store.issues_of("brief", statuses=("complete",))))

        await running(service, body)
    issues = ws.store.issues_of("brief")
    assert [(i.period, i.status) for i in issues] == [(period, "complete")]
    assert ws.store.delivery_counts(issues[0].id) == {"sent": 4}
    assert sorted(recorder.attempts.values()) == [1, 1, 1, 1]


@pytest.mark.slow
async def test_the_repeated_hour_of_fall_back_does_not_send_a_daily_digest_twice(
    tmp_path: Path,
    workspaces: Callable[..., Workspace],
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A daily 01:00 in New York fires at 01:00 EDT and again at 01:00 EST: one issue."""
    config = write_config(tmp_path / "config", schedule="0 1 * * *", timezone="America/New_York")
    first = utc(2026, 11, 1, 5)  # 01:00 EDT
    write_article(tmp_path / "config" / "articles", "bridge", "Bridge reopens", first)
    recorder.arm()
    caplog.set_level(logging.INFO, logger="digest.service")
    with time_machine.travel(first - timedelta(seconds=2), tick=True):
        ws = workspaces(config)
        add_subscribers(ws.store, 2)
        service = Service(ws, options=QUICK)

        async def body() -> None:
            await until(lambda: bool(ws.store.issues_of("brief", statuses=("complete",))))

        await running(service, body)
    write_article(tmp_path / "config" / "articles", "tram", "Tram line approved", first)
    with time_machine.travel(first + timedelta(hours=1) - timedelta(seconds=2), tick=True):
        service = Service(ws, options=QUICK)

        async def second() -> None:
            await until(lambda: "period 2026-11-01 was already claimed" in caplog.text)

        await running(service, second)
    assert [i.period for i in ws.store.issues_of("brief")] == ["2026-11-01"]


# -- exactly once with two services on one store ------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
async def test_two_services_on_one_store_send_each_subscriber_the_period_once(
    tmp_path: Path,
    workspaces: Callable[..., Workspace],
    recorder: Recorder,
    request: pytest.FixtureRequest,
    engine: str,
) -> None:
    url = request.getfixturevalue("postgres_url") if engine == "postgresql" else None
    config = write_config(
        tmp_path / "config", store_url=url, schedule="* * * * *", extra_digest='grace = "10m"'
    )
    write_article(tmp_path / "config" / "articles", "bridge", "Bridge reopens")
    recorder.arm(delay=0.01)
    one, two = workspaces(config, "one"), workspaces(config, "two")
    add_subscribers(one.store, 600)
    options = ServiceOptions(poll_interval=0.1, web=False, catch_up=True)
    first, second = Service(one, options=options), Service(two, options=options)
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        await until(lambda: bool(one.store.issues_of("brief", statuses=("complete",))), 30)
    finally:
        first.request_stop()
        second.request_stop()
        await asyncio.gather(*tasks)
    every = one.store.issues_of("brief")
    assert len({i.period for i in every}) == len(every)
    # both caught up the same minute and one claimed it (a minute turning meanwhile may add an
    # issue skipped for having nothing new)
    issues = [i for i in every if i.status != "skipped"]
    assert len(issues) == 1
    assert one.store.delivery_counts(issues[0].id) == {"sent": 600}
    assert len(recorder.attempts) == 600 and set(recorder.attempts.values()) == {1}
    assert set(recorder.recipients.values()) == {1}
    owners = _lease_owners(one, issues[0].id)
    assert owners == {"one", "two"}  # both shared the sending


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
async def test_two_services_firing_at_the_same_minute_build_one_issue_and_share_the_sending(
    tmp_path: Path,
    workspaces: Callable[..., Workspace],
    recorder: Recorder,
    request: pytest.FixtureRequest,
    engine: str,
) -> None:
    """A per-minute digest in New York as the clocks go back: both fire for 01:00 EST."""
    url = request.getfixturevalue("postgres_url") if engine == "postgresql" else None
    config = write_config(
        tmp_path / "config", store_url=url, schedule="* * * * *", timezone="America/New_York"
    )
    turn = utc(2026, 11, 1, 6)  # 01:00 EST, an hour after 01:00 EDT
    write_article(tmp_path / "config" / "articles", "bridge", "Bridge reopens", turn)
    recorder.arm(delay=0.01)
    with time_machine.travel(turn - timedelta(seconds=1.5), tick=True):
        one, two = workspaces(config, "one"), workspaces(config, "two")
        add_subscribers(one.store, 400)
        options = ServiceOptions(poll_interval=0.1, web=False, catch_up=False)
        first, second = Service(one, options=options), Service(two, options=options)
        tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
        try:
            await until(lambda: bool(one.store.issues_of("brief", statuses=("complete",))), 30)
        finally:
            first.request_stop()
            second.request_stop()
            await asyncio.gather(*tasks)
    every = one.store.issues_of("brief")
    assert every[-1].period == "2026-11-01T01:00-05:00"
    assert [i.status for i in every if i.status != "skipped"] == ["complete"]
    assert one.store.delivery_counts(every[-1].id) == {"sent": 400}
    assert set(recorder.attempts.values()) == {1} and len(recorder.attempts) == 400
    assert _lease_owners(one, every[-1].id) == {"one", "two"}


def _lease_owners(ws: Workspace, issue_id: int) -> set[str]:
    from sqlalchemy import select

    deliveries = tables.deliveries
    with ws.store.engine.connect() as conn:
        return set(
            conn.execute(
                select(deliveries.c.lease_owner).where(deliveries.c.issue_id == issue_id)
            ).scalars()
        )


# -- catch-up ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_catch_up_sends_a_missed_period_once_and_a_restart_sends_nothing_more(
    tmp_path: Path,
    workspaces: Callable[..., Workspace],
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_config(tmp_path / "config", schedule="0 8 * * MON", extra_digest='grace = "2h"')
    restart = utc(2026, 11, 30, 8, 30)  # Monday 09:30 in Berlin, 1.5 h after the firing
    write_article(tmp_path / "config" / "articles", "bridge", "Bridge reopens", restart)
    recorder.arm()
    caplog.set_level(logging.INFO, logger="digest.service")
    options = ServiceOptions(poll_interval=0.1, web=False, catch_up=True)
    with time_machine.travel(restart, tick=True):
        ws = workspaces(config)
        add_subscribers(ws.store, 3)
        # an issue two weeks ago, then the service was down: W48 is missed, W49 is caught up
        ws.store.claim_issue("brief", "2026-W47", "earlier")
        with ws.store.engine.begin() as conn:
            from sqlalchemy import update

            conn.execute(update(tables.issues).values(created_at=utc(2026, 11, 16, 7, 0, 3)))
        for _ in range(2):  # a second start finds the period claimed and sends nothing
            service = Service(ws, options=options)

            async def body() -> None:
                await until(lambda: bool(ws.store.issues_of("brief", statuses=("complete",))))
                await asyncio.sleep(0.3)

            await running(service, body)
    periods = [i.period for i in ws.store.issues_of("brief")]
    assert periods == ["2026-W49", "2026-W47"]
    assert sum(recorder.attempts.values()) == 3
    assert "1 period(s) missed" in caplog.text and "2026-W48" in caplog.text


# -- reload and web ---------------------------------------------------------------------------


async def test_config_change_reloads_schedules_and_a_bad_one_is_kept_out(
    tmp_path: Path, workspaces: Callable[..., Workspace], caplog: pytest.LogCaptureFixture
) -> None:
    import os
    import signal

    config = write_config(tmp_path / "config", schedule="0 8 * * MON")
    ws = workspaces(config)
    service = Service(ws, options=QUICK)
    caplog.set_level(logging.INFO, logger="digest.service")

    def trigger() -> str:
        assert service._scheduler is not None
        job = service._scheduler.get_job("brief")
        return str(job.trigger)

    async def body() -> None:
        assert "day_of_week='mon'" in trigger()
        text = config.read_text().replace('schedule = "0 8 * * MON"', 'schedule = "30 6 * * 1-5"')
        config.write_text(text)
        os.utime(config, (1, 1))  # a different mtime, whatever the clock's resolution
        await until(lambda: "hour='6'" in trigger())
        assert ws.config.digests["brief"].schedule == "30 6 * * 1-5"
        config.write_text(text.replace('schedule = "30 6 * * 1-5"', 'schedule = "99 * * * *"'))
        os.kill(os.getpid(), signal.SIGHUP)
        await until(lambda: "configuration not reloaded" in caplog.text)
        assert "hour='6'" in trigger()
        assert ws.config.digests["brief"].schedule == "30 6 * * 1-5"

    await running(service, body)


async def test_the_web_app_runs_in_the_same_loop(
    tmp_path: Path, workspaces: Callable[..., Workspace]
) -> None:
    ws = workspaces(write_config(tmp_path / "config"))

    def factory(workspace: Workspace, **_: object) -> Starlette:
        async def hello(_: object) -> PlainTextResponse:
            return PlainTextResponse(f"digests: {', '.join(workspace.config.digests)}")

        return Starlette(routes=[Route("/", hello)])

    options = ServiceOptions(port=0, web=True, catch_up=False, poll_interval=0.2)
    service = Service(ws, app_factory=factory, options=options)

    async def body() -> None:
        assert service.bound_port
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{service.bound_port}/")
        assert answer.text == "digests: brief"

    await running(service, body)


async def test_the_web_app_sees_the_peer_not_what_x_forwarded_for_claims(
    tmp_path: Path, workspaces: Callable[..., Workspace]
) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default; the app decides itself
    (web.trusted_proxies), so the server must hand it the peer as it is."""
    ws = workspaces(write_config(tmp_path / "config"))

    def factory(workspace: Workspace, **_: object) -> Starlette:
        async def peer(request: Request) -> PlainTextResponse:
            return PlainTextResponse(request.client.host if request.client else "")

        return Starlette(routes=[Route("/", peer)])

    options = ServiceOptions(port=0, web=True, catch_up=False, poll_interval=0.2)
    service = Service(ws, app_factory=factory, options=options)

    async def body() -> None:
        async with httpx.AsyncClient() as client:
            answer = await client.get(
                f"http://127.0.0.1:{service.bound_port}/",
                headers={"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"},
            )
        assert answer.text == "127.0.0.1"

    await running(service, body)


async def test_serve_mounts_the_projects_web_app(
    tmp_path: Path, workspaces: Callable[..., Workspace]
) -> None:
    ws = workspaces(write_config(tmp_path / "config"))
    options = ServiceOptions(port=0, web=True, catch_up=False, poll_interval=0.2)
    service = Service(ws, app_factory=create_app, options=options)

    async def body() -> None:
        url = f"http://127.0.0.1:{service.bound_port}/healthz"
        async with httpx.AsyncClient() as client:
            answer = await client.get(url)
            assert answer.status_code == 200
            service._tasks["sender"].cancel()  # the sender loop dies: /healthz says so
            await asyncio.sleep(0.05)
            answer = await client.get(url)
        assert answer.status_code == 503
        assert answer.text == "sender: the sender loop is not running"

    await running(service, body)


async def test_a_taken_port_stops_the_service_with_an_error(
    tmp_path: Path, workspaces: Callable[..., Workspace]
) -> None:
    import socket

    from digest.errors import DigestError

    ws = workspaces(write_config(tmp_path / "config"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        options = ServiceOptions(port=port, web=True, catch_up=False, poll_interval=0.2)
        service = Service(ws, app_factory=lambda _, **__: Starlette(), options=options)
        with pytest.raises(DigestError, match="could not listen"):
            await asyncio.wait_for(service.run(), 20)


# -- policies ---------------------------------------------------------------------------------


async def test_too_few_new_articles_skips_the_period_with_the_reason(
    tmp_path: Path, workspaces: Callable[..., Workspace]
) -> None:
    config = write_config(tmp_path / "config", extra_digest="min_articles = 3")
    write_article(tmp_path / "config" / "articles", "one", "Only one story")
    ws = workspaces(config)
    add_subscribers(ws.store, 2)
    report = await run_period(ws, "brief", "2026-W48")
    assert report.status == "skipped"
    issue = ws.store.get_issue(report.issue_id or 0)
    assert issue.report["reason"] == "only 1 new articles (minimum 3)"
    assert (await run_period(ws, "brief", "2026-W48")).status == "claimed"


@pytest.mark.parametrize(("on_deadline", "outcome"), [("send", "frozen"), ("drop", "dropped")])
async def test_an_unapproved_draft_is_sent_or_dropped_at_its_deadline(
    tmp_path: Path, workspaces: Callable[..., Workspace], on_deadline: str, outcome: str
) -> None:
    extra = f'approval = true\napproval_deadline = "4h"\non_deadline = "{on_deadline}"'
    config = write_config(tmp_path / "config", extra_digest=extra)
    write_article(tmp_path / "config" / "articles", "one", "A story")
    ws = workspaces(config)
    add_subscribers(ws.store, 2)
    report = await run_period(ws, "brief", "2026-W48")
    assert report.status == "draft"
    assert settle_drafts(ws, "brief", now=utcnow() + timedelta(hours=3)) == []
    with time_machine.travel(utcnow() + timedelta(hours=4, minutes=1)):
        settled = settle_drafts(ws, "brief")
    assert [(r.issue_id, r.status) for r in settled] == [(report.issue_id, outcome)]
    issue = ws.store.get_issue(report.issue_id or 0)
    assert issue.status == outcome
    expected = {"pending": 2} if outcome == "frozen" else {}
    assert ws.store.delivery_counts(issue.id) == expected
    assert settle_drafts(ws, "brief", now=utcnow() + timedelta(days=1)) == []


async def test_an_approved_draft_is_frozen_for_sending_once(
    tmp_path: Path, workspaces: Callable[..., Workspace]
) -> None:
    config = write_config(tmp_path / "config", extra_digest="approval = true")
    write_article(tmp_path / "config" / "articles", "one", "A story")
    ws, other = workspaces(config, "a"), workspaces(config, "b")
    add_subscribers(ws.store, 3)
    report = await run_period(ws, "brief", "2026-W48")
    assert settle_drafts(ws, "brief") == []  # no deadline: it waits for an editor
    ws.store.set_issue_status(report.issue_id or 0, "approved")
    settled = settle_drafts(ws, "brief") + settle_drafts(other, "brief")
    assert [r.status for r in settled] == ["frozen"]
    assert ws.store.delivery_counts(report.issue_id or 0) == {"pending": 3}


async def test_the_sender_loop_sends_an_approved_draft(
    tmp_path: Path, workspaces: Callable[..., Workspace], recorder: Recorder
) -> None:
    config = write_config(tmp_path / "config", extra_digest="approval = true")
    write_article(tmp_path / "config" / "articles", "one", "A story")
    recorder.arm()
    ws = workspaces(config)
    add_subscribers(ws.store, 3)
    report = await run_period(ws, "brief", "2026-W48", send=False)
    service = Service(ws, options=QUICK)
    assert await service.send_due() == 0
    assert ws.store.get_issue(report.issue_id or 0).status == "draft"
    ws.store.set_issue_status(report.issue_id or 0, "approved")  # what the editor's page does
    assert await service.send_due() == 1
    assert ws.store.get_issue(report.issue_id or 0).status == "complete"
    assert sum(recorder.attempts.values()) == 3


async def test_a_claim_whose_builder_died_is_built_again_or_skipped_when_too_old(
    tmp_path: Path, workspaces: Callable[..., Workspace], recorder: Recorder
) -> None:
    from sqlalchemy import update

    issues = tables.issues
    config = write_config(tmp_path / "config")
    write_article(tmp_path / "config" / "articles", "one", "A story")
    recorder.arm()
    ws = workspaces(config)
    add_subscribers(ws.store, 3)
    recent = ws.store.claim_issue("brief", "2026-W48", "dead:1")
    ancient = ws.store.claim_issue("brief", "2026-W40", "dead:1")
    building = ws.store.claim_issue("brief", "2026-W49", "alive:2")  # claimed just now
    assert recent and ancient and building
    with ws.store.engine.begin() as conn:
        for issue_id, age in ((recent, timedelta(minutes=20)), (ancient, timedelta(days=50))):
            conn.execute(
                update(issues).where(issues.c.id == issue_id).values(created_at=utcnow() - age)
            )
    options = ServiceOptions(web=False, catch_up=False, build_timeout=600)
    other = Service(workspaces(config, "other"), options=options)
    service = Service(ws, options=options)
    await service.send_due()
    await other.send_due()  # finds nothing left to take over
    assert ws.store.get_issue(recent).status == "complete"
    skipped = ws.store.get_issue(ancient)
    assert skipped.status == "skipped" and "grace window" in skipped.report["reason"]
    assert ws.store.get_issue(building).status == "building"
    assert sum(recorder.attempts.values()) == 3


async def test_local_hour_holds_each_delivery_until_that_hour_in_the_subscribers_zone(
    tmp_path: Path, workspaces: Callable[..., Workspace], recorder: Recorder
) -> None:
    config = write_config(tmp_path / "config", extra_digest="local_hour = 7")
    built = utc(2026, 11, 26, 8)  # 17:00 in Tokyo, 03:00 in New York, 09:00 in Berlin
    write_article(tmp_path / "config" / "articles", "one", "A story", built)
    recorder.arm()
    zones = ["Asia/Tokyo", "America/New_York", "Europe/Berlin", "Not/AZone"]
    with time_machine.travel(built, tick=False):
        ws = workspaces(config)
        add_subscribers(ws.store, 8, zones=zones)
        report = await run_period(ws, "brief", "2026-11-26", send=False)
        issue_id = report.issue_id or 0
        assert ws.store.next_due(issue_id) == utc(2026, 11, 26, 12)  # 07:00 in New York
        service = Service(ws, options=QUICK)
        assert await service.send_due() == 0  # nobody's 07:00 has come yet
    sent: list[tuple[datetime, dict[str, int]]] = []
    # New York's 07:00, then Tokyo's (the next morning there), then Berlin's next morning (the
    # unknown zone falls back to the digest's, Berlin)
    for moment in (utc(2026, 11, 26, 12), utc(2026, 11, 26, 22), utc(2026, 11, 27, 6)):
        with time_machine.travel(moment, tick=False):
            await service.send_due()
            sent.append((moment, ws.store.delivery_counts(issue_id)))
    assert sent[0][1] == {"sent": 2, "pending": 6}
    assert sent[1][1] == {"sent": 4, "pending": 4}
    assert sent[2][1] == {"sent": 8}
    assert ws.store.get_issue(issue_id).status == "complete"
    assert recorder.recipients["reader00001@example.org"] == 1


def test_serve_refuses_a_port_that_is_not_one(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config")
    args = ["serve", "--config", str(config), "--home", str(tmp_path / "var"), "--port", "70000"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 2
    assert "not a port number" in result.output


# -- status -----------------------------------------------------------------------------------


def test_status_shows_next_firing_in_the_zone_and_utc_last_issues_and_failing_sources(
    tmp_path: Path, workspaces: Callable[..., Workspace]
) -> None:
    config = write_config(tmp_path / "config", schedule="30 2 * * *")
    ws = workspaces(config)
    issue_id = ws.store.claim_issue("brief", "2026-03-27", "x")
    assert issue_id is not None
    ws.store.set_issue_status(issue_id, "skipped", report={"reason": "nothing new to send"})
    ws.store.record_source_result("desk", error="folder is empty")
    args = ["status", "--config", str(config), "--home", str(tmp_path / "var")]
    with time_machine.travel(utc(2026, 3, 28, 12), tick=False):
        text = CliRunner().invoke(cli_app, args, terminal_width=200)
        data = CliRunner().invoke(cli_app, [*args, "--json", "--schedules"])
    assert text.exit_code == 0, text.output
    # 02:30 does not exist in Berlin on 29 March: the firing is at 03:30 CEST
    assert "next 2026-03-29T03:30+02:00 (Europe/Berlin) = 2026-03-29T01:30+00:00 UTC" in text.output
    assert "2026-03-27" in text.output and "nothing new to send" in text.output
    assert "source failing: desk: 1 time(s)" in text.output
    found = json.loads(data.output)
    assert found["digests"][0]["next_period"] == "2026-03-29"
    assert found["failing_sources"][0]["error"] == "folder is empty"
