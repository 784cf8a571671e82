"""Real `digest serve` processes: two on one PostgreSQL database with a per-minute digest and
thousands of subscribers, one killed with SIGKILL mid-send, then restarted; and a graceful
SIGTERM on SQLite. (Live firings of two services at a minute's turn are in tests/test_service.py,
with time travel, so this file never waits for a clock.)

What reached the "provider" is read from two places: the outbox (one file per delivery id: what
a subscriber ends up with, since a resend of the same delivery replaces its file, as a provider's
idempotency key would) and the attempt logs of tests/service/serve_recorded.py (every attempt,
so a duplicate send would show). Only the batch the killed process had in flight may have been
attempted twice; everyone else exactly once.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digest.store import Store, open_store, tables
from tests.service.helpers import add_subscribers, write_article, write_config

deliveries, issues = tables.deliveries, tables.issues

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("serve_recorded.py")
SUBSCRIBERS = 3000


class Processes:
    """`digest serve` subprocesses, each with its own data directory and log."""

    def __init__(self, tmp: Path, config: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.config = config
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []
        self.count = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.count += 1
        home = self.tmp / f"home{self.count}"
        log = open(self.tmp / f"serve{self.count}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [sys.executable, str(LAUNCHER), "serve", "--config", str(self.config)]
        command += ["--home", str(home), "--no-web", "--poll", "0.3"]
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.running.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.tmp.glob("serve*.log"))
        )

    def stop_all(self) -> list[int]:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.running:
            try:
                codes.append(process.wait(timeout=20))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes


def owner_of(process: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{process.pid}"


def wait_for(check: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{logs()[-4000:]}")
        time.sleep(0.02)


def counts(store: Store, issue_id: int) -> dict[str, int]:
    return store.delivery_counts(issue_id)


def attempts(folder: Path) -> tuple[Counter[int], dict[int, set[str]]]:
    """Attempts per delivery id, and which process logs (pids) attempted each."""
    per_delivery: Counter[int] = Counter()
    by: dict[int, set[str]] = {}
    for log in folder.glob("*.log"):
        for line in log.read_text().splitlines():
            delivery_id = int(line.split()[0])
            per_delivery[delivery_id] += 1
            by.setdefault(delivery_id, set()).add(log.stem)
    return per_delivery, by


def inbox_recipients(inbox: Path, delivery_ids: set[int]) -> Counter[str]:
    """Who received the messages of these deliveries, from the outbox files."""
    found: Counter[str] = Counter()
    pattern = re.compile(rb"^To: (.+?)\r?$", re.MULTILINE)
    for delivery_id in delivery_ids:
        path = inbox / f"{delivery_id:09d}.eml"
        if path.exists():
            match = pattern.search(path.read_bytes())
            assert match is not None
            found[match.group(1).decode().strip().rsplit("<", 1)[-1].rstrip(">")] += 1
    return found


def delivery_ids(store: Store, issue_id: int) -> set[int]:
    with store.engine.connect() as conn:
        return set(
            conn.execute(select(deliveries.c.id).where(deliveries.c.issue_id == issue_id)).scalars()
        )


def sending_by(store: Store, issue_id: int) -> dict[str, set[int]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.lease_owner, deliveries.c.id).where(
                deliveries.c.issue_id == issue_id, deliveries.c.status == "sending"
            )
        ).all()
    held: dict[str, set[int]] = {}
    for owner, delivery_id in rows:
        held.setdefault(owner, set()).add(delivery_id)
    return held


def sent_issues(store: Store) -> list[tuple[int, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(issues.c.id, issues.c.period, issues.c.status)
            .where(issues.c.status.notin_(["skipped"]))
            .order_by(issues.c.id)
        ).all()
    return [(row.id, row.period, row.status) for row in rows]


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DIGEST_SECRET_KEY": "test-secret-key-for-signing-links-0123456789",
        "DIGEST_TEST_ATTEMPTS": str(tmp_path / "attempts"),
        "DIGEST_TEST_BATCH_DELAY": "0.25",
        "DIGEST_TEST_MAX_BATCH": "100",
    }
    env.pop("DIGEST_CONFIG", None)
    yield env


def test_two_processes_on_postgresql_one_killed_mid_send_everyone_gets_each_period_once(
    tmp_path: Path, postgres_url: str, environment: dict[str, str]
) -> None:
    inbox = tmp_path / "inbox"
    config = write_config(
        tmp_path / "config",
        store_url=postgres_url,
        schedule="* * * * *",
        extra_digest='grace = "10m"',
        lease_seconds=3,
        concurrency=2,
        outbox=inbox,
    )
    articles = tmp_path / "config" / "articles"
    write_article(articles, "bridge", "Bridge reopens")
    store = open_store(postgres_url, tmp_path)
    try:
        add_subscribers(store, SUBSCRIBERS)
        group = Processes(tmp_path, config, environment)
        try:
            first, second = group.start(), group.start()
            # both catch up the current minute at start; one claims it, both send
            wait_for(
                lambda: any(counts(store, i).get("sent", 0) >= 300 for i, *_ in sent_issues(store)),
                60,
                "the first issue to be half sent",
                group.logs,
            )
            issue_id = sent_issues(store)[0][0]
            victim = None
            deadline = time.monotonic() + 20
            while victim is None and time.monotonic() < deadline:
                held = sending_by(store, issue_id)
                victim = next((p for p in (first, second) if held.get(owner_of(p))), None)
                time.sleep(0.005)
            assert victim is not None, "no process was caught with a batch in flight"
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            in_flight = sending_by(store, issue_id).get(owner_of(victim), set())
            assert in_flight, "the killed process held no batch"
            assert counts(store, issue_id).get("pending", 0) > 0, (
                "killed after the send, not mid-send"
            )

            wait_for(
                lambda: store.get_issue(issue_id).status == "complete",
                60,
                "the survivor to finish the issue",
                group.logs,
            )
            # a restart of the killed process must not send the period again
            group.start()
            ids = delivery_ids(store, issue_id)
            assert len(ids) == SUBSCRIBERS
            assert counts(store, issue_id) == {"sent": SUBSCRIBERS}
            tried, _ = attempts(tmp_path / "attempts")
            twice = {d for d in ids if tried[d] > 1}
            assert twice <= in_flight, "only the killed process's batch may have been re-sent"
            assert all(tried[d] >= 1 for d in ids) and max(tried[d] for d in ids) <= 2
            received = inbox_recipients(inbox, ids)
            assert len(received) == SUBSCRIBERS and set(received.values()) == {1}

            # the restarted process is up (it logs its schedule) and sends nothing again
            wait_for(lambda: group.logs().count("next firing") >= 3, 30, "the restart", group.logs)
            time.sleep(1.0)
            assert attempts(tmp_path / "attempts")[0] == tried
        finally:
            exit_codes = group.stop_all()
        survivor = 1 if victim is first else 0
        assert exit_codes[survivor] == 0 and exit_codes[2] == 0
        assert exit_codes[1 - survivor] == -signal.SIGKILL
        with store.engine.connect() as conn:
            per_period = conn.execute(
                select(issues.c.period, func.count()).group_by(issues.c.period)
            ).all()
        assert all(n == 1 for _, n in per_period)  # any later minute: one issue (skipped)
        assert [status for *_, status in sent_issues(store)] == ["complete"]
        logs = group.logs()
        assert "fired for period" in logs and "built issue" in logs and "complete" in logs
    finally:
        store.close()


@pytest.mark.slow
def test_sigterm_lets_the_batch_in_flight_finish_and_leaves_the_rest_for_the_next_start(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    inbox = tmp_path / "inbox"
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    config = write_config(
        tmp_path / "config",
        store_url=url,
        schedule="0 8 * * MON",
        extra_digest='grace = "52w"',  # the last Monday's firing is always due at start
        concurrency=1,
        outbox=inbox,
    )
    write_article(tmp_path / "config" / "articles", "bridge", "Bridge reopens")
    environment["DIGEST_TEST_BATCH_DELAY"] = "0.3"
    environment["DIGEST_TEST_MAX_BATCH"] = "50"
    store = open_store(url, tmp_path)
    try:
        add_subscribers(store, 500)
        group = Processes(tmp_path, config, environment)
        process = group.start()
        wait_for(
            lambda: any(counts(store, i).get("sent", 0) > 0 for i, *_ in sent_issues(store)),
            60,
            "sending to start",
            group.logs,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        issue_id = sent_issues(store)[0][0]
        left = counts(store, issue_id)
        assert "sending" not in left, "the batch in flight was not finished"
        assert left.get("pending", 0) > 0 and left.get("sent", 0) > 0
        assert "stopping" in group.logs()

        group.start()  # the next start carries on, and does not build the period again
        wait_for(lambda: store.get_issue(issue_id).status == "complete", 60, "the rest", group.logs)
        assert group.stop_all()[-1] == 0
        assert counts(store, issue_id) == {"sent": 500}
        assert len(sent_issues(store)) == 1
        tried, _ = attempts(tmp_path / "attempts")
        assert len(tried) == 500 and set(tried.values()) == {1}
    finally:
        store.close()
